"""The shell commands the READMEs show: found in their fenced ``bash`` / ``sh`` / ``shell`` / ``console`` blocks,
one entry per command (``\\`` continuations joined, a heredoc kept with its body, comment-only lines left out).
``tests/test_readme_commands.py`` runs them or names why not."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHELL_BLOCKS = {"bash", "sh", "shell", "console"}
SKIP_DIRS = {".venv", ".cache", ".git", "out", "node_modules", "__pycache__"}
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")


@dataclass(frozen=True)
class Command:
    readme: str  # path relative to the repository root
    line: int  # first line of the command in the README (1-based)
    text: str  # as written (continuation lines joined with their backslash-newline, heredoc body included)

    @property
    def key(self) -> str:
        """The command without its comments and with its whitespace normalized: the tables' key."""
        return key(self.text)


def key(text: str) -> str:
    head = text.split("\n", 1)[0] if _HEREDOC.search(text.split("\n", 1)[0]) else text
    head = head.replace("\\\n", " ")
    try:
        return " ".join(shlex.split(head, comments=True))
    except ValueError:  # unbalanced quotes: whitespace only
        return " ".join(head.split())


def readmes(root: Path = ROOT) -> list[Path]:
    found = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS and not x.startswith("."))
        found += [Path(d) / f for f in files if f == "README.md"]
    return sorted(found)


def commands(readme: Path, root: Path = ROOT) -> list[Command]:
    rel = str(readme.relative_to(root))
    out: list[Command] = []
    lines = readme.read_text(encoding="utf-8").splitlines()
    i, in_block = 0, None
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith("```"):
            in_block = None if in_block is not None else stripped[3:].strip().lower()
            i += 1
            continue
        if in_block not in SHELL_BLOCKS or not stripped or stripped.startswith("#"):
            i += 1
            continue
        start, text = i, lines[i]
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text += "\n" + lines[i]
        here = _HEREDOC.search(text)
        if here:
            while i + 1 < len(lines) and lines[i].strip() != here.group(2):
                i += 1
                text += "\n" + lines[i]
        out.append(Command(rel, start + 1, text))
        i += 1
    return out


def all_commands(root: Path = ROOT) -> list[Command]:
    return [c for r in readmes(root) for c in commands(r, root)]
