"""Tofu is visible and replacements are counted, on real text: the UDHR in eight languages rendered with PIXAR's
PixeloidSans (which lacks Arabic, Devanagari, Tamil, Hangul, Han and Kana), and real WikiText lines carrying
control characters and lone surrogates."""

from __future__ import annotations

import json
import logging

import pytest

from pixelkit.pipeline.documents import Skipped, TextChunk
from pixelkit.pipeline.main import run, summary_table
from pixelkit.pipeline.render import TextRenderer, preset
from pixelkit.pipeline.report import source_stats, tofu_rate
from pixelkit.pipeline.samples import DEFAULT_MAX_UNKNOWN_RATIO, Filters, render_chunk
from pixelkit.pipeline.shards import read_shard
from pixelkit.schemas import DEFAULT_ENCODING

LATIN = ("eng", "vie")  # scripts PixeloidSans has (Vietnamese misses some stacked diacritics)
OTHER = ("arb", "hin", "tam", "kor", "jpn", "cmn_hans")  # scripts it lacks
CONTROLS = {  # id -> (where to insert, what, replaced in the sample)
    "nul": (40, "\x00\x07", 2),  # C0 controls -> spaces
    "sur": (30, "\ud800", 1),  # a lone surrogate (a JSON \ud800 escape) -> U+FFFD
    "csi": (25, "\x9b", 1),  # a C1 control -> space
    "sep": (20, "\x1c", 0),  # an information separator: whitespace to Python, dropped (and counted) at chunking
}


@pytest.fixture(scope="module")
def tofu_run(tmp_path_factory, udhr, wikitext):
    d = tmp_path_factory.mktemp("udhr")
    for lang in LATIN + OTHER:
        (d / f"{lang}.jsonl").write_text("".join(json.dumps({"id": f"p{i}", "text": p}, ensure_ascii=False) + "\n"
                                                 for i, p in enumerate(udhr[lang]["paragraphs"])))
    lines = [json.dumps({"id": k, "text": wikitext[i][:at] + s + wikitext[i][at:200]})  # ascii escapes: \ud800 too
             for i, (k, (at, s, _)) in enumerate(CONTROLS.items())]
    (d / "ctl.jsonl").write_text("\n".join(lines) + "\n")
    out = d / "out"
    inputs = [f"--input={name}={d / name}.jsonl" for name in (*LATIN, *OTHER, "ctl")]
    return run([*inputs, f"--output={out}", "--preset=pixar-pango"]), out


def test_tofu_rates_per_source_and_mostly_tofu_is_skipped_by_default(tofu_run, udhr):
    m, out = tofu_run
    stats = source_stats(m.counts)
    assert set(stats) == {*LATIN, *OTHER, "ctl"}
    assert tofu_rate(stats["eng"]) == 0 and 0.01 < tofu_rate(stats["vie"]) < 0.1
    assert all(tofu_rate(stats[lang]) > 0.7 for lang in OTHER), {k: tofu_rate(v) for k, v in stats.items()}
    n_docs = {lang: len(udhr[lang]["paragraphs"]) for lang in LATIN + OTHER}
    assert m.counts["skipped_too_much_tofu"] == sum(n_docs[lang] for lang in OTHER)
    assert m.counts["documents_written"] == sum(n_docs[lang] for lang in LATIN) + len(CONTROLS)
    samples = [s for info in m.shards for s in read_shard(out / info.name)]
    assert {s.source for s in samples} == {*LATIN, "ctl"}
    assert all(s.unknown_glyphs <= DEFAULT_MAX_UNKNOWN_RATIO * len(s.text) for s in samples)
    table = summary_table(m)
    assert all(f"  {lang} " in table for lang in LATIN + OTHER)
    card = (out / "README.md").read_text()
    assert all(f"**Warning**: source '{lang}'" in card for lang in (*OTHER, "vie"))
    assert "source 'eng'" not in card and "| hin | " in card


def test_a_warning_names_each_source_with_tofu(tmp_path, udhr, caplog):
    d = tmp_path / "in"
    d.mkdir()
    (d / "hin.jsonl").write_text(json.dumps({"id": "p0", "text": udhr["hin"]["paragraphs"][0]}) + "\n")
    (d / "eng.jsonl").write_text(json.dumps({"id": "p0", "text": udhr["eng"]["paragraphs"][0]}) + "\n")
    with caplog.at_level(logging.WARNING, logger="pixelkit.pipeline.main"):
        m = run([f"--input=hin={d / 'hin.jsonl'}", f"--input=eng={d / 'eng.jsonl'}", f"--output={tmp_path / 'o'}",
                 "--preset=pixar-pango", "--max_unknown_ratio=1"])
    warned = [r.getMessage() for r in caplog.records if r.name == "pixelkit.pipeline.main" and r.levelno == logging.WARNING]
    assert len(warned) == 1 and warned[0].startswith("source 'hin': ") and "tofu" in warned[0]
    assert "(0 in this run, all sources: skipped_too_much_tofu)" in warned[0]  # nothing was skipped: not claimed
    assert m.counts["documents_written"] == 2  # --max_unknown_ratio 1 keeps everything, still with the warning


def test_replacements_are_counted_per_sample_and_per_source(tofu_run):
    m, out = tofu_run
    samples = {s.doc_id: s for info in m.shards for s in read_shard(out / info.name) if s.source == "ctl"}
    assert {k: s.replaced_chars for k, s in samples.items()} == {k: n for k, (_, _, n) in CONTROLS.items()}
    assert "\ufffd" in samples["sur"].text and "\x00" not in samples["nul"].text
    assert m.counts["replaced_chars:ctl"] == sum(len(s) for _, s, _ in CONTROLS.values())  # the separator too
    clean = [s for info in m.shards for s in read_shard(out / info.name) if s.source != "ctl"]
    assert clean and all(s.replaced_chars == 0 for s in clean)
    # the field is written only when something was replaced, so clean samples keep the bytes they had before it
    assert all("replaced_chars" not in json.loads(s.to_wds()["json"]) for s in clean)
    assert all(json.loads(s.to_wds()["json"])["replaced_chars"] == s.replaced_chars
               for s in samples.values() if s.replaced_chars)


def test_default_ratio_skips_what_the_font_cannot_write(udhr):
    cfg = preset("pixar-pango")
    r = TextRenderer(cfg)
    hindi = TextChunk("hin", "p0", 0, udhr["hin"]["paragraphs"][0][:300])
    english = TextChunk("eng", "p0", 0, udhr["eng"]["paragraphs"][0][:300])
    assert render_chunk(hindi, r, cfg, DEFAULT_ENCODING, Filters()).count_name == "skipped_too_much_tofu"
    kept = render_chunk(hindi, r, cfg, DEFAULT_ENCODING, Filters(max_unknown_ratio=1.0))
    assert kept.unknown_glyphs > 0.7 * len(kept.text)
    assert render_chunk(english, r, cfg, DEFAULT_ENCODING, Filters()).unknown_glyphs == 0


def test_lone_surrogates_in_ids_and_file_names_do_not_stop_the_job(tmp_path, wikitext):
    """Beam's string coder cannot encode lone surrogates: a JSON id "\\ud800" or a file name that is not UTF-8 used
    to crash the whole job in the chunking stage. They become U+FFFD in ids (the key is then a hash)."""
    import os

    d = tmp_path / "in"
    d.mkdir()
    (d / "web.jsonl").write_text(json.dumps({"id": "a\ud800b", "text": wikitext[0][:300]}) + "\n"
                                 + json.dumps({"id": "plain", "text": wikitext[1][:300]}) + "\n")
    (d / os.fsdecode(b"book-\xff.txt")).write_text(wikitext[2])  # a Latin-1 file name on a UTF-8 system
    m = run([f"--input=web={d / 'web.jsonl'}", f"--input=books={d}/book-*.txt", f"--output={tmp_path / 'o'}"])
    assert m.counts["documents_written"] == 3 and m.counts["records_read"] == 3
    ids = {s.doc_id for info in m.shards for s in read_shard(tmp_path / "o" / info.name)}
    assert ids == {"a\ufffdb", "plain", "book-\ufffd"}


@pytest.mark.parametrize("name", ["pixel-gray", "pixar-binary"])
def test_the_main_jobs_corpus_is_far_below_the_default_tofu_limit(name):
    """pipeline/README: on the bundled corpus no chunk comes near --max_unknown_ratio's default: every chunk of the
    main job (its inputs, each preset, chunked and rendered as the job does) is at most 2% tofu, none skipped."""
    from pixelkit.pipeline.chunking import chunk_document
    from pixelkit.pipeline.cli import DEMO_CONFIGS, DEMO_INPUTS
    from pixelkit.pipeline.readers import iter_documents
    from pixelkit.pipeline.samples import render_chunk_result

    cfg = preset(DEMO_CONFIGS[name][DEMO_CONFIGS[name].index("--preset") + 1])
    r = TextRenderer(cfg)
    docs = [d for spec in DEMO_INPUTS for d in iter_documents(spec.split("=", 1)[1], "auto", spec.split("=", 1)[0])
            if hasattr(d, "text")]
    chunks = [c for d in docs for c in chunk_document(d, r.measure, r.text_budget)]
    results = [render_chunk_result(c, r, cfg, DEFAULT_ENCODING, Filters()) for c in chunks]
    assert len(chunks) > 100
    assert not [out for out, _ in results if isinstance(out, Skipped) and out.reason == "too_much_tofu"]
    assert max(res.unknown_glyphs / max(1, len(res.text)) for _, res in results) <= 0.02


def test_chunks_skipped_inside_a_written_document_are_counted(tmp_path, udhr):
    """The accounting is per document: one written chunk makes a document written. Its other chunks that a filter
    skips (here the Hindi half of an English + Hindi document under PIXAR's PixeloidSans) were counted nowhere in
    the manifest; they are now ``chunks_skipped_<reason>:<source>`` counts and a summary-table row."""
    text = "\n".join(udhr["eng"]["paragraphs"][:6] + udhr["hin"]["paragraphs"][:6])
    (tmp_path / "mixed.jsonl").write_text(json.dumps({"id": "m", "text": text}, ensure_ascii=False) + "\n")
    m = run([f"--input=mixed={tmp_path / 'mixed.jsonl'}", f"--output={tmp_path / 'o'}", "--preset=pixar-pango"])
    skipped = m.counts.get("chunks_skipped_too_much_tofu:mixed", 0)
    assert m.counts["documents_written"] == 1 and "skipped_too_much_tofu" not in m.counts
    assert skipped > 0 and m.num_samples > 0
    assert f"skipped_too_much_tofu (chunks) {skipped:>10,}"[-10:] in summary_table(m)
    samples = list(read_shard(tmp_path / "o" / m.shards[0].name))
    assert all(s.unknown_glyphs <= DEFAULT_MAX_UNKNOWN_RATIO * len(s.text) for s in samples)


def test_chunks_dropped_as_duplicates_inside_a_written_document_are_counted(tmp_path, udhr):
    """--dedup: a chunk identical to one already kept is dropped. Inside a written document that drop was counted
    nowhere in the manifest (only in the live display's 'skipped: duplicate'); it is now a
    ``chunks_skipped_duplicate:<source>`` count and a summary-table row, as chunks a filter skips are."""
    line = " ".join(udhr["eng"]["paragraphs"])  # wider than half a strip: each copy is a chunk of its own
    (tmp_path / "rep.jsonl").write_text(json.dumps({"id": "r", "text": "\n".join([line] * 4)}) + "\n")
    m = run([f"--input=rep={tmp_path / 'rep.jsonl'}", f"--output={tmp_path / 'o'}", "--dedup", "--workers=1"])
    assert m.counts["documents_written"] == 1 and m.num_samples == 1
    assert m.counts["chunks_skipped_duplicate:rep"] == 3
    assert f"skipped_duplicate (chunks) {3:>10,}"[-10:] in summary_table(m)


def test_text_the_pygame_backend_cannot_shape_is_counted_and_warned_per_source(tmp_path, udhr, caplog):
    """``--backend pygame`` with a font that has Arabic and Devanagari (GoNoto) wrote them left to right, unjoined
    and without conjuncts, with no count and no warning. Now the manifest counts ``unshaped_chars:<source>``, the
    log and the dataset card warn about that source, and English (and every source under Pango) shows nothing."""
    d = tmp_path / "in"
    d.mkdir()
    for lang in ("arb", "hin", "eng"):
        (d / f"{lang}.jsonl").write_text(json.dumps({"id": "p0", "text": udhr[lang]["paragraphs"][0]}) + "\n")
    inputs = [f"--input={lang}={d / lang}.jsonl" for lang in ("arb", "hin", "eng")]
    with caplog.at_level(logging.WARNING, logger="pixelkit.pipeline.main"):
        m = run([*inputs, f"--output={tmp_path / 'pg'}", "--preset=pixel", "--backend=pygame", "--workers=1"])
    warned = [r.getMessage() for r in caplog.records if r.name == "pixelkit.pipeline.main" and r.levelno == logging.WARNING]
    stats = source_stats(m.counts)
    assert stats["arb"]["unshaped_chars"] > 100 and stats["hin"]["unshaped_chars"] > 30
    assert stats["eng"]["unshaped_chars"] == 0 and "unshaped_chars:eng" not in m.counts
    assert sorted(w.split(":")[0] for w in warned if "unshaped" in w) == ["source 'arb'", "source 'hin'"]
    card = (tmp_path / "pg" / "README.md").read_text()
    assert "source 'arb'" in card and "--backend pangocairo" in card
    assert m.counts["documents_written"] == 3  # counted and warned, not skipped
    pango = run([*inputs, f"--output={tmp_path / 'pc'}", "--preset=pixel", "--workers=1"])
    assert not [k for k in pango.counts if k.startswith("unshaped_chars")]


def test_the_summary_table_shows_hostile_source_names_escaped(tmp_path, udhr):
    """A source name given with a newline and a terminal escape (--input NAME=path) was printed raw: the row broke in
    two and the escape reset the terminal. Now each source is one row, escaped; plain names as before."""
    d = tmp_path / "in"
    d.mkdir()
    hostile = "news\nfake row\x1bc\x07"  # ESC c resets a terminal, BEL rings
    (d / "a.jsonl").write_text(json.dumps({"id": "p0", "text": udhr["eng"]["paragraphs"][0]}) + "\n")
    (d / "eng.jsonl").write_text(json.dumps({"id": "p0", "text": udhr["eng"]["paragraphs"][1]}) + "\n")
    m = run([f"--input={hostile}={d / 'a.jsonl'}", f"--input={d / 'eng.jsonl'}", f"--output={tmp_path / 'o'}"])
    assert sorted(source_stats(m.counts)) == ["eng", hostile]
    table = summary_table(m)
    assert "\x1b" not in table and "\n  fake row" not in table
    rows = table.splitlines()
    n = source_stats(m.counts)
    escaped = "news\\nfake row\\x1bc\\x07"  # as written: backslash escapes, one line
    assert sum(r.startswith(f"  {escaped:<22} {n[hostile]['chars_rendered']:>14,} ") for r in rows) == 1
    assert sum(r.startswith(f"  {'eng':<22} {n['eng']['chars_rendered']:>14,} ") for r in rows) == 1
