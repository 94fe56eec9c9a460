"""The schemas' own files (``manifest.json``, ``task.json``): one atomic write and the directory-or-file rule of
every ``read``. Stdlib only."""

from __future__ import annotations

from pathlib import Path


def write_atomic(path: Path, data: bytes) -> Path:
    """``data`` to ``path`` through a hidden temp name beside it (``.NAME.tmp``) and a rename: a reader sees the old
    file or the whole new one, never half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def file_in(path: str | Path, name: str) -> Path:
    """``path`` itself, or ``path / name`` when ``path`` is a directory."""
    path = Path(path)
    return path / name if path.is_dir() else path
