"""Chunking on real text: chunks fill the budget, stay inside one document, and lose or clip nothing."""

from __future__ import annotations

import pytest

from pixelkit.pipeline.chunking import chunk_document, pieces
from pixelkit.pipeline.documents import Document
from pixelkit.pipeline.render import RenderConfig, TextRenderer


@pytest.fixture(scope="module")
def r():
    return TextRenderer(RenderConfig())


def _norm(text: str) -> str:
    return " ".join(text.split())


def test_chunks_fill_the_budget_and_keep_every_word(r, austen):
    doc = Document("gutenberg", "pp", "\n".join(austen))
    chunks = chunk_document(doc, r.measure, r.text_budget)
    assert len(chunks) > 5
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert _norm(" ".join(c.text for c in chunks)) == _norm(doc.text)
    results = [r(c.text) for c in chunks]
    assert not any(res.truncated for res in results), "a chunk must never be clipped by the renderer"
    fills = [res.num_patches for res in results[:-1]]
    assert min(fills) > 400 and sum(fills) / len(fills) > 480, f"chunks should fill the 528-patch budget: {fills}"


def test_long_line_is_split_at_sentences_then_words(r, wikitext):
    line = " ".join(wikitext[:6])  # one line far wider than a strip
    parts = pieces(line, r.measure, r.text_budget)
    assert len(parts) > 1 and all(w <= r.text_budget for _, w in parts)
    assert _norm(" ".join(t for t, _ in parts)) == _norm(line)
    assert any(t.endswith((".", "!", "?")) for t, _ in parts[:-1]), "split at a sentence end"


def test_unbroken_run_is_split_between_characters(r):
    url = "https://example.org/" + "abcdefghij" * 400  # no spaces, no sentence ends
    doc = Document("web", "u", url)
    chunks = chunk_document(doc, r.measure, r.text_budget)
    assert len(chunks) >= 2
    assert "".join(c.text for c in chunks) == url
    assert not any(r(c.text).truncated for c in chunks)


def test_documents_never_share_a_chunk(r, wikitext):
    a = chunk_document(Document("w", "a", wikitext[0]), r.measure, r.text_budget)
    b = chunk_document(Document("w", "b", wikitext[1]), r.measure, r.text_budget)
    assert {c.doc_id for c in a} == {"a"} and {c.doc_id for c in b} == {"b"}


def test_empty_document_has_no_chunks(r):
    assert chunk_document(Document("w", "e", "  \n\n \t"), r.measure, r.text_budget) == []
