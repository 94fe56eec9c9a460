"""Chunking on real text: chunks fill the budget, stay inside one document, and lose or clip nothing."""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from conftest import SHARED_DATA, udhr_page_text

from pixelkit.pipeline.chunking import chunk_document, pieces
from pixelkit.pipeline.documents import Document
from pixelkit.pipeline.render import RenderConfig, TextRenderer, preset


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


def test_a_document_of_zero_width_characters_only_has_no_chunks(r):
    """ZWSP, ZWJ, BOM, word joiner, bidi marks and soft hyphens draw nothing: such a document was one blank strip
    (with token ids), now it is empty (``skipped_empty_text``). Lines of them inside a document are dropped; a line
    with one visible character, tofu (unassigned / private use) or an Arabic number sign is kept."""
    invisible = "\u200b\u200d\ufeff \u2060\u200e\u202b\u00ad\u200c"
    assert chunk_document(Document("w", "z", invisible + "\n" + invisible), r.measure, r.text_budget) == []
    chunks = chunk_document(Document("w", "m", f"One line.\n{invisible}\nTwo lines."), r.measure, r.text_budget)
    assert [c.text for c in chunks] == ["One line. Two lines."]
    for kept in ("\u200bx", "\ue000", "\U000e0100\u0378", "\u0600"):
        assert [c.text for c in chunk_document(Document("w", "k", kept), r.measure, r.text_budget)] == [kept]



def _cuts_inside_a_cluster(text: str, chunks) -> list:
    """The cuts between chunks of ``text`` that are not at a space and split a character cluster: a mark (or ZWJ)
    starting the next chunk, a virama or ZWJ ending the chunk, or a flag's two regional indicators apart."""
    norm, pos, bad = " ".join(text.split()), 0, []
    for a, b in zip(chunks, chunks[1:]):
        pos += len(a.text)
        if norm[pos] == " ":
            pos += 1
            continue
        flag = sum(1 for _ in itertools.takewhile(lambda c: "\U0001f1e6" <= c <= "\U0001f1ff", a.text[::-1])) % 2
        if unicodedata.category(b.text[0]) in ("Mn", "Mc", "Me") or b.text[0] in "\u200c\u200d" \
                or a.text[-1] == "\u200d" or unicodedata.combining(a.text[-1]) == 9 \
                or (flag and "\U0001f1e6" <= b.text[0] <= "\U0001f1ff"):
            bad.append((a.index, a.text[-2:], b.text[:2]))
    return bad


def test_an_unbroken_run_is_split_between_character_clusters(r, udhr):
    """A run wider than a strip was cut at any code point: a line of Hindi without spaces gave every other chunk a
    vowel sign on a dotted circle (and the chunk before a consonant without it), and Javanese, written without
    spaces, did so in the real UDHR under PIXAR's strips. Cuts now fall where a new character cluster starts."""
    hindi = udhr["hin"]["paragraphs"][0].replace(" ", "")[:200] * 40
    emoji = "\U0001F468\u200d\U0001F469\u200d\U0001F467\U0001F44D\U0001F3FD\U0001F1FA\U0001F1F8\U0001F1EF\U0001F1F5"
    for text in (hindi, emoji * 300):
        chunks = chunk_document(Document("web", "run", text), r.measure, r.text_budget)
        assert len(chunks) > 2 and "".join(c.text for c in chunks) == text
        assert not _cuts_inside_a_cluster(text, chunks)
    page = SHARED_DATA / "udhr" / "declaration" / "jav_java.html"  # Javanese in its own script
    if page.exists():
        pixar = TextRenderer(preset("pixar-pango"))
        text = udhr_page_text(page.read_text(encoding="utf-8"))
        chunks = chunk_document(Document("udhr", "jav", text), pixar.measure, pixar.text_budget)
        assert len(chunks) > 10 and not _cuts_inside_a_cluster(text, chunks)


def test_a_run_of_zero_width_characters_longer_than_the_render_cap_is_split_not_cut(r, wikitext):
    """The renderer keeps at most ``char_cap`` characters of a text (4 per pixel of the strip) and measures only
    those: 40,000 zero-width spaces inside a word measured ~0 px, so the job made them one chunk and the renderer
    cut it -- the document's last words were lost, flagged only as ``truncated`` in its one sample. The job's
    chunking (transforms._Chunker) now counts a text longer than the cap as too wide."""
    from pixelkit.pipeline.renderers import SharedRenderer
    from pixelkit.pipeline.transforms import _Chunker

    text = wikitext[0][:200] + "\u200b" * 40_000 + wikitext[1][:200]
    chunks, labels, _ = _Chunker(r.cfg, False, SharedRenderer(r.cfg))(Document("web", "zw", text))
    assert len(chunks) > 1 and labels == []
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")
    results = [r(c.text) for c in chunks]
    assert not any(res.truncated for res in results) and results[-1].text.endswith(wikitext[1][:200].split()[-1])


@pytest.mark.parametrize("name", ["pixel", "pixar"])
def test_a_cluster_wider_than_a_strip_is_one_chunk_skipped_as_too_wide(name, udhr):
    """One character cluster wider than a strip -- a 1,200-emoji ZWJ sequence, a letter under 2,000 combining
    marks (boxes under PIXAR's font), a chain of 1,500 conjuncts -- was cut inside into chunks that began with a
    ZWJ, a bare mark or a virama's consonant, and each written as a sample of half a cluster. Now the cluster is a
    chunk of its own, which the render step skips as ``too_wide`` (counted), and the text around it is written."""
    from pixelkit.pipeline.documents import Skipped
    from pixelkit.pipeline.samples import Filters, render_chunk_result

    cfg = preset(name)
    r = TextRenderer(cfg)
    before, after = udhr["hin"]["paragraphs"][0], udhr["rus"]["paragraphs"][0]
    clusters = ["\u200d".join(["\U0001F468"] * 1200), "a" + "\u0301" * 2000, "\u0915\u094d" * 1500 + "\u0915"]
    for cluster in clusters:
        if r.measure(cluster) <= r.text_budget:
            continue  # marks stack under GoNoto: that cluster fits a PIXEL strip and is not the case here
        doc = Document("udhr", "d", f"{before} {cluster} {after}")
        chunks = chunk_document(doc, r.measure, r.text_budget, cfg.char_cap)
        outs = [render_chunk_result(c, r, cfg, "pxz", Filters(max_unknown_ratio=1.0))[0] for c in chunks]
        skipped = [(c.text, o.reason) for c, o in zip(chunks, outs) if isinstance(o, Skipped)]
        assert skipped == [(cluster, "too_wide")], (name, cluster[:4], skipped[:2])
        written = [o for o in outs if not isinstance(o, Skipped)]
        assert not any(o.truncated for o in written)
        assert _norm(" ".join(o.text for o in written)) == _norm(f"{before} {after}")


def test_a_flood_of_combining_marks_is_skipped_without_laying_it_out(udhr):
    """100,000 combining marks on one letter: HarfBuzz's time for one cluster grows with the square of its length
    (33,000 marks: 3-7 s per layout), and chunking bisected over layouts of it, then the renderer laid the capped
    33,856 marks out again: ~97 s for this document (three samples of marks written), ~51 s once the cluster was
    kept whole; the job's prefetch shaped the whole document's words in one Pango batch first (48 s). A long first
    cluster is now measured once (here not at all: it is longer than the renderer's cap), a chunk longer than the
    cap is skipped as ``too_wide`` before any layout, and the shaping cache never takes a word over 256 characters
    into a batch (render/pango/words.py ``LONG_WORD``)."""
    from conftest import hang_guard

    from pixelkit.pipeline.documents import Skipped
    from pixelkit.pipeline.samples import Filters, render_chunk_result

    cfg = preset("pixel")
    before, after = udhr["eng"]["paragraphs"][0], udhr["rus"]["paragraphs"][0]
    flood = "a" + "\u0301" * 100_000
    from pixelkit.pipeline.renderers import SharedRenderer
    from pixelkit.pipeline.transforms import _Chunker

    shared = SharedRenderer(cfg)  # the job's chunking: the document's words prefetched (one batch), then measured
    r = shared.get()
    with hang_guard(30):
        chunks = _Chunker(cfg, False, shared)(Document("web", "marks", f"{before} {flood} {after}"))[0]
        outs = [render_chunk_result(c, r, cfg, "pxz", Filters())[0] for c in chunks]
    assert [(c.text, o.reason) for c, o in zip(chunks, outs) if isinstance(o, Skipped)] == [(flood, "too_wide")]
    assert _norm(" ".join(o.text for o in outs if not isinstance(o, Skipped))) == _norm(f"{before} {after}")


def test_a_large_font_never_measures_a_long_text_as_narrow(austen, udhr):
    """Pango's widths are int32 Pango units (1/1024 px): a layout past 2,097,151 px measured 0, so at --font_size
    120 (200 px per em) a 27,000-character text "fit" one patch -- render_text gave num_patches 1, not truncated,
    its whole text as the sample's text; and chunking put a whole long paragraph (at --font_size 1000 --dpi 1000,
    a whole UDHR preamble) in one chunk. Long runs are measured in halves."""
    text = " ".join(austen)[:27_000]
    r = TextRenderer(preset("pixel", font_size=120))
    res = r.render_text(text)
    assert res.truncated and res.num_patches > 400 and len(res.text) < 200  # a full strip of 200 px glyphs
    assert r.measure(text) > 2_000_000
    amharic = _norm(udhr["amh"]["paragraphs"][0])
    huge = TextRenderer(preset("pixel", font_size=1000, dpi=1000))
    assert huge.measure(amharic) > huge.text_budget
    chunks = chunk_document(Document("u", "amh", amharic), huge.measure, huge.text_budget, huge.cfg.char_cap)
    assert len(chunks) > 20 and all(len(c.text) < 10 for c in chunks)
