"""Where the observer listens: ``("127.0.0.1", 9090)``, or ``":9090"`` on the command
line. Loopback unless a host is named: the page shows every actor's path and the
messages that failed, which is not for every network to read."""

from __future__ import annotations

__all__ = ["DEFAULT_HOST", "check_address", "is_loopback", "parse_address"]

DEFAULT_HOST = "127.0.0.1"


def parse_address(text: str) -> tuple[str, int]:
    """``"host:port"`` or ``":port"`` (loopback) as ``(host, port)``; ValueError naming
    what is wrong otherwise."""
    host, colon, port = text.rpartition(":")
    if not colon:
        raise ValueError(f"observe address must be `host:port` or `:port`, got {text!r}")
    return check_address((host.strip("[]") or DEFAULT_HOST, _port(port, text)))


def check_address(address: object) -> tuple[str, int]:
    """``address`` as ``(host, port)`` if it is one; ValueError naming what is wrong."""
    if (
        not isinstance(address, tuple)
        or len(address) != 2
        or not isinstance(address[0], str)
        or not address[0]
        or not isinstance(address[1], int)
        or isinstance(address[1], bool)
        or not 0 <= address[1] <= 65535
    ):
        raise ValueError(
            "observe must be a (host, port) tuple, port in 0..65535 (0: any free port), "
            f"e.g. ('127.0.0.1', 9090); got {address!r}"
        )
    return address[0], address[1]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    # Here, not at the top: `import actors` reaches this module, and on Python 3.13
    # asyncio no longer imports ipaddress itself (see tests/unit/test_imports.py).
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _port(text: str, whole: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"observe address {whole!r}: the port must be a number") from None
