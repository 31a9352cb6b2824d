"""The fenced code blocks of a Markdown file, with the marker comment that precedes each.

A block is what a reader copies: ```` ```python ```` (a program or a test file) or
```` ```pycon ```` (an interactive session). An HTML comment on the line before the fence
says how the test suite treats it, and is invisible on the rendered page:

- ``<!-- not-run: reason -->``: an illustration that cannot run alone (a fragment, code
  of the old design, a web handler); the reason is reported with the skip.
- ``<!-- run-as: pytest -->``: a test file, run by pytest as the reader would.

A ```` ```text ```` block that directly follows a program (nothing but blank lines
between) is the output the page claims: what the program prints must match it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "read_blocks"]

_FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
_MARKER = re.compile(r"^<!--\s*(?P<key>not-run|run-as):\s*(?P<value>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts (1-based line of the fence), its language, its
    code, its marker (``not-run`` or ``run-as``) and the marker's argument, and the text
    block that shows its output, if one follows."""

    path: Path
    line: int
    lang: str
    code: str
    marker: str | None = None
    argument: str = ""
    output: str | None = None

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.line}"


def read_blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path`` in order; a fence that is never closed is an error
    (it would swallow the rest of the page)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    raw: list[tuple[int, str, str, str | None, str, int]] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = next((j for j in range(index + 1, len(lines)) if lines[j].rstrip() == "```"), None)
        if end is None:
            raise ValueError(f"{path}:{index + 1}: a ``` fence is never closed")
        marker, argument = _marker_before(lines, index)
        code = "\n".join(lines[index + 1 : end]) + "\n"
        raw.append((index + 1, opening["lang"], code, marker, argument, end))
        index = end + 1
    blocks = []
    for position, (line, lang, code, marker, argument, end) in enumerate(raw):
        output = None
        if position + 1 < len(raw):
            next_line, next_lang, next_code, *_ = raw[position + 1]
            between = lines[end + 1 : next_line - 1]
            if next_lang == "text" and all(not text.strip() for text in between):
                output = next_code
        blocks.append(Block(path, line, lang, code, marker, argument, output))
    return blocks


def _marker_before(lines: list[str], fence: int) -> tuple[str | None, str]:
    """The marker comment on the line right before the fence, if there is one."""
    if fence == 0:
        return None, ""
    found = _MARKER.match(lines[fence - 1].strip())
    if found is None:
        return None, ""
    return found["key"], found["value"]
