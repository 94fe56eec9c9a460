"""Values in the Markdown of the cards both sides write (the pipeline's dataset card, the trainer's model card).

Source names, paths, font and tokenizer file names and label names come from the user or from data: a newline,
a ``|`` or a backtick in one cut a table row, split a cell or swallowed the rest of a row into a code span. Each
value goes into a card through one of these, on one line, shown as given (control characters as escapes).
"""

from __future__ import annotations

import re
import unicodedata

# punctuation that starts markup mid-line (a code span, a link, raw HTML, emphasis, an entity, a cell's end); `_` and
# `#` are left as they are: intraword underscores (snake_case names) do not emphasise, nor `#` mid-line head anything
_MARKUP = re.compile(r"([\\`*\[\]<>|~&])")


def one_line(value) -> str:
    """``str(value)`` with control characters and line / paragraph separators as escapes (``\\n``, ``\\x1b``)."""
    return "".join(c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in ("Cc", "Zl", "Zp")
                   else c for c in str(value))


def md_text(value) -> str:
    """Plain Markdown text (a table cell, a list item) that renders as ``one_line(value)``."""
    return _MARKUP.sub(r"\\\1", one_line(value))


def md_code(value) -> str:
    """A code span that renders as ``one_line(value)``, fit for a table cell: fenced with more backticks than any run
    inside, padded where CommonMark strips a space, its pipes escaped (GFM cuts cells at a ``|`` even there)."""
    s = one_line(value)
    fence = "`" * (max((len(r) for r in re.findall("`+", s)), default=0) + 1)
    if not s.strip(" ") or s[0] == "`" or s[-1] == "`" or (s[0] == " " and s[-1] == " "):
        s = f" {s} "
    return fence + s.replace("|", "\\|") + fence
