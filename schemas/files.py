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


def refuse_undecodable(argv: list[str], error) -> list[str]:
    """``argv``, or ``error(problems)`` raised when an argument holds bytes the locale could not decode (a non-ASCII
    path under an ASCII locale: Python hands it on as surrogate escapes, which Beam's options and tensorboard cannot
    encode, a traceback after the output was made). One problem per argument, naming its flag and the fix."""
    import locale

    problems = []
    for i, arg in enumerate(argv):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            flag, value = arg.split("=", 1) if arg.startswith("-") and "=" in arg else (
                argv[i - 1] if i and argv[i - 1].startswith("-") else "argument", arg)
            shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            problems.append(f"{flag} {shown!a}: holds characters the locale's encoding "
                            f"({locale.getpreferredencoding(False)}) cannot decode; run under a UTF-8 locale "
                            "(LC_ALL=C.UTF-8, or PYTHONUTF8=1) or give an ASCII name")
    if problems:
        raise error(problems)
    return argv


def printable_stdout() -> None:
    """Characters stdout's encoding cannot hold (a source name "книги" under PYTHONIOENCODING=ascii or an ASCII
    locale) printed as ``\\u043a`` escapes, as stderr already does: the summary after a finished run was a
    UnicodeEncodeError traceback and exit 1."""
    import sys

    if hasattr(sys.stdout, "reconfigure") and sys.stdout.errors == "strict":
        sys.stdout.reconfigure(errors="backslashreplace")


def quiet_on_closed_pipe(run) -> int:
    """``run()``'s exit code, its output flushed; a reader that stops early (``pixel-train models | head``) ends the
    command quietly with exit 1 -- it was a BrokenPipeError traceback."""
    import os
    import sys

    try:
        code = run()
        sys.stdout.flush()  # here, not at interpreter exit, where a closed pipe can no longer be caught
        return code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own advice (signal docs)
        return 1


def name_too_long(path: str | Path, flag: str) -> str | None:
    """Why the OS refuses ``path`` for its length (a part over the filesystem's 255 bytes, the whole over PATH_MAX):
    ``Path.exists`` raised it as an OSError traceback (Python 3.11) in the checks meant to catch bad paths."""
    import errno
    import os

    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            return f"{flag} {str(path)[:80]}...: a name too long for the filesystem ({e.strerror}); give a shorter path"
    return None
