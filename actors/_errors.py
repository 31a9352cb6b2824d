"""The exceptions the core runtime raises.

Every error names what was attempted and on which actor, so a log line is enough to
act on. The hierarchy::

    ActorsError
    ├── MailboxClosed          a put to, or a get from, a closed and drained mailbox
    ├── MailboxFull            a bounded mailbox refused a message (policy FAIL, or a
    │                          non-waiting put under policy WAIT)
    ├── ActorNotFound          the target is stopped, unknown, or stopped before handling
    ├── ActorCrashed           the actor raised while handling the message (or starting);
    │                          the original exception is ``__cause__``
    ├── AskTimeout             no answer within the ask's timeout (also a TimeoutError)
    ├── Unhandled              the actor called ``self.unhandled`` on the asked message
    └── StashOverflow          ``self.stash()`` past the actor's ``stash_capacity``

Attributes ``actor`` (the actor's path) and ``message_type`` (the message's class name)
are set wherever they are known; code should read them, never parse the text.
"""

from __future__ import annotations

__all__ = [
    "ActorCrashed",
    "ActorNotFound",
    "ActorsError",
    "AskTimeout",
    "MailboxClosed",
    "MailboxFull",
    "StashOverflow",
    "Unhandled",
]


class ActorsError(Exception):
    """Base class of every error raised by the runtime."""

    actor: str | None
    message_type: str | None

    def __init__(
        self, text: str, *, actor: str | None = None, message_type: str | None = None
    ) -> None:
        super().__init__(text)
        self.actor = actor
        self.message_type = message_type


class MailboxClosed(ActorsError):
    """Raised when putting into a closed mailbox, or getting from one that is closed
    and has no matching message left."""


class MailboxFull(ActorsError):
    """Raised when a bounded mailbox refuses a message: under ``Overflow.FAIL``, or by a
    put that may not wait (``put_nowait``, ``tell``) under ``Overflow.WAIT``."""


class ActorNotFound(ActorsError):
    """Raised when asking an actor that is stopped or does not exist, or when the
    actor stopped before it handled the question."""


class ActorCrashed(ActorsError):
    """Raised to an asker (or a spawner) when the actor raised instead of answering.
    The actor's own exception is the ``__cause__``."""


class AskTimeout(ActorsError, TimeoutError):
    """Raised when an ask gets no answer within its timeout. The actor may still handle
    the message later; its answer is then discarded."""

    @classmethod
    def after(cls, path: str, message: object, timeout: float) -> AskTimeout:
        """The error for an ask of ``message`` to ``path`` that timed out (one wording
        for local and remote asks)."""
        name = type(message).__name__
        return cls(
            f"ask of `{name}` to `{path}` timed out after {timeout} s",
            actor=path,
            message_type=name,
        )


class Unhandled(ActorsError):
    """Raised to an asker when the actor does not handle the message it asked
    (``return self.unhandled(message)``): nothing answers it, so waiting is pointless."""


class StashOverflow(ActorsError):
    """Raised by ``self.stash()`` when the stash already holds ``stash_capacity``
    messages: an actor that stashes without bound would hide an unbounded queue."""
