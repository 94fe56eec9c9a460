"""Project Gutenberg's header and footer (the license, donation and file-naming notes around a book), cut from a
book's text so they are not rendered into every book's strips. Pure; used by ``text.py`` on a file read whole
(``--format text``'s default and each book of ``--format books``).

Both eras of the plain-text files are recognised, by their marker lines (case-insensitive, at a line's start):

- the header ends at ``*** START OF THE (or THIS) PROJECT GUTENBERG EBOOK ...`` or, in the 1990s etexts,
  ``*END*THE SMALL PRINT! ...``; only within the first ``HEADER_LINES`` lines (a marker quoted later in a book
  is text);
- the footer starts at ``*** END OF THE (or THIS) PROJECT GUTENBERG EBOOK ...`` or ``End of (the) Project
  Gutenberg ...``, the first one after the header.

A text with no marker (most books already stripped, every non-Gutenberg book) is returned unchanged.
"""

from __future__ import annotations

import re

HEADER_LINES = 1000
_HEADER_END = re.compile(r"\s*(\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG|\*END\*\s*THE SMALL PRINT)", re.I)
_FOOTER_START = re.compile(r"\s*(\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG|END OF (THE )?PROJECT GUTENBERG)", re.I)


def strip_boilerplate(text: str) -> str:
    """``text`` without Project Gutenberg's header (through its end marker) and footer (from its start marker)."""
    lines = text.split("\n")
    start = 0
    for i, line in enumerate(lines[:HEADER_LINES]):
        if _HEADER_END.match(line):
            start = i + 1  # the last marker: an old etext's header quotes "*END*" lines once, at its end
    end = next((i for i in range(start, len(lines)) if _FOOTER_START.match(lines[i])), len(lines))
    if start == 0 and end == len(lines):
        return text
    return "\n".join(lines[start:end]).strip("\n")
