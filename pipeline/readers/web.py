"""One parsed web-corpus record (a JSON line, a parquet row) -> Document, Skipped or DeadLetter; the checks the
column readers (parquet, CSV) share."""

from __future__ import annotations

import re

from ..documents import DeadLetter, Document, Record, Skipped, no_surrogates



def _doc_id(value, fallback: str) -> str:
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
        return no_surrogates(str(value))
    return fallback


def web_record(rec, source: str, path: str, position: str, fallback_id: str, text_field: str, id_field: str) -> Record:
    """One parsed record -> Document (``title`` from a ``title`` field if any), Skipped (empty) or DeadLetter."""
    text = rec.get(text_field) if isinstance(rec, dict) else None
    if not isinstance(text, str):
        if not isinstance(rec, dict):
            what = f"not a JSON object: {type(rec).__name__}"
        elif text_field not in rec:
            what = f"no field {text_field!r} (fields: {sorted(map(str, rec))[:10]}; --text_field names it)"
        else:  # e.g. a number, null, or a parquet binary column holding UTF-8 bytes
            what = f"field {text_field!r} is {type(text).__name__}, not a string"
        return DeadLetter(source, path, position, "missing_text", what)
    doc_id = _doc_id(rec.get(id_field), fallback_id)
    if not text or text.isspace():
        return Skipped(source, doc_id, "empty_text")
    title = rec.get("title")
    return Document(source, doc_id, text, title if isinstance(title, str) else "")


def duplicate_columns(source: str, path: str, position: str, names: list[str], text_field: str,
                      id_field: str) -> DeadLetter | None:
    """A ``duplicate_column`` dead letter when the text, id or title column is named twice in ``names``: pyarrow and
    ``csv.DictReader`` would hand over the last of them and drop the others without a word."""
    twice = [c for c in dict.fromkeys((text_field, id_field, "title")) if names.count(c) > 1]
    if not twice:
        return None
    return DeadLetter(source, path, position, "duplicate_column", f"{[(c, names.count(c)) for c in twice]} columns "
                      f"of one name in {names}: which one to read is ambiguous; rename them"[:300])


_ESCAPED = re.compile("[\udc80-\udcff]")  # a byte that was not UTF-8, kept by errors="surrogateescape"


def undecodable_byte(values) -> str | None:
    """The first byte among ``values`` (strings decoded with surrogateescape) that was not UTF-8, as ``0xNN``."""
    for value in values:
        if isinstance(value, str) and (m := _ESCAPED.search(value)):
            return f"0x{ord(m.group()) - 0xDC00:02x}"
    return None
