"""The command lines the docs show, the way tests run them: verbatim, with only host names, the bucket and the
install folder on the cluster's nodes replaced by the test's own.

Every ```bash block of README.md and docs/*.md is preceded by one of
  <!-- commands: NAME -->       a test runs its commands verbatim (it calls ``commands("NAME")``)
  <!-- untested: WHY -->        nothing runs it, and the page says why beside it
A line ending in a backslash continues the command; a line starting with # is a comment.
Every ```python block is preceded by <!-- python: NAME --> and a test runs it (``python_code("NAME")``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_MARK = re.compile(r"<!--\s*(commands|untested):\s*(.*?)\s*-->")
_PYTHON_MARK = re.compile(r"<!--\s*python:\s*(.*?)\s*-->")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    mark: str | None
    """``commands`` or ``untested``; None when the block has no mark."""
    label: str
    """The block's name (commands) or the reason (untested)."""
    commands: tuple[str, ...]


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks() -> list[Block]:
    out = []
    for page in pages():
        lines = page.read_text().splitlines()
        i = 0
        while i < len(lines):
            if lines[i].strip() != "```bash":
                i += 1
                continue
            prev = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            mark = _MARK.search(prev)
            start, i = i, i + 1
            body = []
            while lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            out.append(Block(page.relative_to(ROOT).as_posix(), start + 1, mark.group(1) if mark else None,
                             mark.group(2) if mark else "", tuple(_commands(body))))
            i += 1
    return out


def _commands(body: list[str]) -> list[str]:
    cmds, current = [], ""
    for line in body:
        if not current and line.lstrip().startswith("#"):
            continue
        current += line + "\n"
        if not line.rstrip().endswith("\\"):
            cmds.append(current.rstrip("\n"))
            current = ""
    if current:
        cmds.append(current.rstrip("\n"))
    return [c for c in cmds if c.strip()]


def commands(name: str, substitutions: dict[str, str] | None = None) -> list[str]:
    """The commands of the block named ``name``, with ``substitutions`` (host, bucket, install folder) made."""
    found = [b for b in blocks() if b.mark == "commands" and b.label == name]
    if len(found) != 1:
        raise LookupError(f"{len(found)} blocks named {name!r} in the docs (want 1)")
    return [substitute(c, substitutions or {}) for c in found[0].commands]


def substitute(text: str, substitutions: dict[str, str]) -> str:
    for old, new in substitutions.items():
        text = text.replace(old, new)
    return text


def python_blocks() -> list[tuple[str, int, str | None, str]]:
    """(page, line, name or None when unmarked, code) of every ```python block of the docs."""
    out = []
    for page in pages():
        lines = page.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip() != "```python":
                continue
            prev = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            mark = _PYTHON_MARK.search(prev)
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            out.append((page.relative_to(ROOT).as_posix(), i + 1, mark.group(1) if mark else None,
                        "\n".join(lines[i + 1:end]) + "\n"))
    return out


def python_code(name: str) -> str:
    """The code of the ```python block named ``name``, to run as it is shown."""
    found = [code for _, _, label, code in python_blocks() if label == name]
    if len(found) != 1:
        raise LookupError(f"{len(found)} python blocks named {name!r} in the docs (want 1)")
    return found[0]
