"""One parsed web-corpus record (a JSON line, a parquet row) -> Document, Skipped or DeadLetter."""

from __future__ import annotations

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
