"""Beam transforms on real text with TestPipeline: chunk -> render -> samples, outcomes, counters, sink."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pixelkit.pipeline.documents import Document, TextChunk
from pixelkit.pipeline.render import RenderConfig, RenderResult, TextRenderer
from pixelkit.pipeline.samples import Filters
from pixelkit.pipeline.shards import read_shard
from pixelkit.pipeline.sink import WriteWebDataset, shard_of
from pixelkit.pipeline.transforms import ChunkFn, ChunkRenderFn, Render, RenderFn
from pixelkit.schemas import DEFAULT_ENCODING

CFG = RenderConfig()


def _key_patches(s):
    return s.key, s.num_patches > 0, s.patch_size


def test_render_transform_on_real_documents(wikitext, austen):
    docs = [Document("wikitext", f"w{i}", t) for i, t in enumerate(wikitext[:3])]
    docs.append(Document("gutenberg", "pp", "\n".join(austen[:12])))
    docs.append(Document("gutenberg", "blank", "   \n  "))
    with TestPipeline() as p:
        samples, outcomes = p | beam.Create(docs) | Render(CFG, DEFAULT_ENCODING, Filters())
        keys = samples | "Keys" >> beam.Map(lambda s: s.key.rsplit("_", 1)[0])
        assert_that(keys | "Distinct" >> beam.Distinct(), equal_to(
            ["wikitext_w0", "wikitext_w1", "wikitext_w2", "gutenberg_pp"]), label="one_doc_per_key_prefix")
        assert_that(outcomes, equal_to(["written"] * 4 + ["skipped_empty_text"]), label="outcomes")


class _FailingRenderer:
    """Stands in for the renderer only to test routing: odd chunks fail with a reason."""

    def __init__(self, cfg):
        self._real = TextRenderer(cfg)

    def render_text(self, text):
        if len(text) % 2:
            return RenderResult.failed("render_error", text)
        return self._real.render_text(text)


def test_failures_are_tagged_and_counted(wikitext):
    chunks = [TextChunk("w", f"d{i}", 0, t[: 100 + i]) for i, t in enumerate(wikitext[:6])]
    fails = sum(1 for c in chunks if len(c.text) % 2)
    p = TestPipeline()
    out = p | beam.Create(chunks) | beam.ParDo(
        RenderFn(CFG, DEFAULT_ENCODING, Filters(), renderer_factory=_FailingRenderer)).with_outputs("outcome", main="samples")
    assert_that(out.outcome | beam.Map(lambda o: o[1]), equal_to(
        ["skipped_render_error"] * fails + ["written"] * (6 - fails)), label="outcomes")
    assert_that(out.samples | beam.Map(lambda s: s.doc_id), equal_to(
        [c.doc_id for c in chunks if len(c.text) % 2 == 0]), label="samples")
    res = p.run()
    res.wait_until_finish()
    q = res.metrics().query(MetricsFilter().with_name("skipped_render_error"))["counters"]
    assert sum(c.committed for c in q) == fails
    q = res.metrics().query(MetricsFilter().with_name("chunks_rendered"))["counters"]
    assert sum(c.committed for c in q) == 6 - fails


def test_min_patches_and_dedup(wikitext):
    text = wikitext[0]
    docs = [Document("w", "a", text), Document("w", "b", text), Document("w", "c", "Short.")]
    with TestPipeline() as p:
        samples, outcomes = p | beam.Create(docs) | Render(CFG, DEFAULT_ENCODING, Filters(min_patches=10), dedup=True)
        assert_that(samples | beam.Map(lambda s: s.doc_id), equal_to(["a"]), label="kept")
        assert_that(outcomes, equal_to(["written", "skipped_duplicate", "skipped_too_short"]), label="outcomes")


def test_sink_writes_deterministic_shards(tmp_path, wikitext):
    chunks = [TextChunk("w", f"d{i:02d}", 0, t[:300]) for i, t in enumerate(wikitext[:10])]
    for run in ("a", "b"):
        out = tmp_path / run
        out.mkdir()
        with TestPipeline() as p:
            samples = (p | beam.Create(chunks) | beam.ParDo(RenderFn(CFG, DEFAULT_ENCODING, Filters()))
                       .with_outputs("outcome", main="samples")).samples
            infos = samples | WriteWebDataset(str(out), "train", samples_per_shard=4)
            assert_that(infos | beam.Map(lambda i: i.num_samples) | beam.combiners.ToList() | beam.Map(sum),
                        equal_to([10]))
    names = sorted(x.name for x in (tmp_path / "a").iterdir())
    assert names == [f"train-{i:05d}-of-00003.tar" for i in range(3)]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        got = list(read_shard(tmp_path / "a" / name))
        assert [s.key for s in got] == sorted(s.key for s in got)
        assert all(shard_of(s.key, 3) == int(name.split("-")[1]) for s in got)


def test_repeated_ids_get_distinct_deterministic_keys(wikitext):
    import dataclasses

    from pixelkit.pipeline.sink import pack, unique_keys
    from pixelkit.pipeline.samples import render_chunk

    r = TextRenderer(CFG)
    a, b = (render_chunk(TextChunk("web", "same-id", 0, t[:200]), r, CFG, DEFAULT_ENCODING, Filters())
            for t in wikitext[:2])
    assert a.key == b.key
    keyed = unique_keys([pack(b), pack(a)])
    assert keyed == unique_keys([pack(a), pack(dataclasses.replace(b))])
    assert [k for k, _ in keyed] == ["web_same-id_0000", "web_same-id_0000-dup1"]
    assert [p[2] for _, p in keyed] == sorted(s.text.encode() for s in (a, b))  # content order decides


def test_title_and_heading_filters(wikitext):
    from pixelkit.pipeline.main import FilterFn

    docs = [Document("enwiki", "1", "= Heading =\n" + wikitext[0], "List of things"),
            Document("enwiki", "2", " = History = \n" + wikitext[1], "Anarchism")]
    with TestPipeline() as p:
        out = p | beam.Create(docs) | beam.ParDo(FilterFn("^List of", True)).with_outputs("outcome", main="docs")
        assert_that(out.outcome, equal_to(["skipped_title_filtered"]), label="filtered")
        assert_that(out.docs | beam.Map(lambda d: (d.doc_id, "History" in d.text, d.text.startswith(wikitext[1][:20]))),
                    equal_to([("2", False, True)]), label="kept")


def test_token_ids_pair_with_the_rendered_text(tmp_path, wikitext):
    from tokenizers import Tokenizer

    from pixelkit.pipeline.samples import render_chunk
    from pixelkit.pipeline.tokenizer import identity, train_bpe

    tok_path = train_bpe(iter(wikitext), 2000, tmp_path / "tok.json")
    assert identity(tok_path)["vocab_size"] == 2000
    tok = Tokenizer.from_file(str(tok_path))
    s = render_chunk(TextChunk("w", "d", 0, wikitext[3][:400]), TextRenderer(CFG), CFG, DEFAULT_ENCODING, Filters(), tok)
    assert s.token_ids and tok.decode(s.token_ids) == s.text


def test_chunking_and_rendering_share_one_renderer_per_thread():
    import pickle
    import threading

    from pixelkit.pipeline.renderers import SharedRenderer

    cfg = RenderConfig()
    shared = SharedRenderer(cfg)
    mine = shared.get()
    chunk_fn, render_fn = (pickle.loads(pickle.dumps(fn)) for fn in  # Beam pickles each DoFn on its own
                           (ChunkFn(cfg, renderer=shared), RenderFn(cfg, DEFAULT_ENCODING, Filters(), renderer=shared)))
    assert chunk_fn._renderer.get() is mine and render_fn._renderer.get() is mine
    fused = pickle.loads(pickle.dumps(ChunkRenderFn(cfg, DEFAULT_ENCODING, Filters(), renderer=shared)))
    assert fused._renderer.get() is mine and fused._chunker._renderer.get() is mine  # the default, fused path
    assert SharedRenderer(RenderConfig(mode="binary")).get() is not mine
    assert SharedRenderer(cfg, _FailingRenderer).get() is not mine  # another factory, another renderer
    other = []
    t = threading.Thread(target=lambda: other.append(shared.get()))
    t.start()
    t.join()
    assert other[0] is not mine  # renderers are not thread-safe: each thread has its own


def test_tofu_and_replacements_reach_the_counters_and_the_stats(wikitext, udhr):
    """Render(stats=True): per-source sums on the stats output and the Beam counters, on real text (UDHR Hindi
    with PIXAR's PixeloidSans, which lacks Devanagari; WikiText with a NUL, a lone surrogate and a separator)."""
    from pixelkit.pipeline.render import preset

    cfg = preset("pixar-pango")
    hindi = udhr["hin"]["paragraphs"][0][:200]
    docs = [Document("hin", "p0", hindi),
            Document("ctl", "c0", wikitext[0][:60] + "\x00" + wikitext[0][60:120] + "\ud800 \x1c" + wikitext[0][120:200])]
    p = TestPipeline()
    _, outcomes, stats = p | beam.Create(docs) | Render(cfg, DEFAULT_ENCODING, Filters(max_unknown_ratio=1.0),
                                                        stats=True)
    r = TextRenderer(cfg)
    tofu = r.render_text(hindi).unknown_glyphs
    assert tofu > 100
    assert_that(stats | beam.Filter(lambda kv: not kv[0].startswith("chars_rendered")), equal_to(
        [("tofu_chars:hin", tofu), ("replaced_chars:ctl", 3)]), label="stats")
    assert_that(outcomes, equal_to(["written", "written"]), label="outcomes")
    res = p.run()
    res.wait_until_finish()

    def counter(name):
        return sum(c.committed for c in res.metrics().query(MetricsFilter().with_name(name))["counters"])

    assert counter("tofu_chars") == tofu and counter("replaced_chars") == 3


def test_fused_chunk_and_render_writes_what_the_pure_functions_write(wikitext, austen):
    """The default path (documents in lists -> Reshuffle -> ChunkRenderFn) writes, for every chunk, the sample that
    chunk_document + render_chunk give on a fresh renderer (key, pixels, json member), one outcome per document (a
    repeated id shares it), and the per-source stats of every chunk (as RenderFn's)."""
    from pixelkit.pipeline.chunking import chunk_document
    from pixelkit.pipeline.samples import render_chunk

    docs = [Document("wikitext", f"w{i}", "\n".join(wikitext[4 * i:4 * i + 4])) for i in range(3)]
    docs += [Document("gutenberg", "pp", "\n".join(austen[:12])), Document("gutenberg", "blank", "   \n  "),
             Document("wikitext", "w0", wikitext[13][:300] + "\x1c")]  # an id repeated, a separator replaced
    r = TextRenderer(CFG)
    expected, sums = [], {"replaced_chars:wikitext": 1}  # the separator, counted at chunking
    for d in docs:
        for c in chunk_document(d, r.measure, r.text_budget):
            s = render_chunk(c, r, CFG, DEFAULT_ENCODING, Filters())
            expected.append((s.key, s.pixels, s.to_wds()["json"]))
            res = r.render_text(c.text)
            for name, n in (("chars_rendered", len(res.text)), ("tofu_chars", res.unknown_glyphs),
                            ("replaced_chars", res.replaced_chars)):
                if n or name == "chars_rendered":
                    sums[f"{name}:{d.source}"] = sums.get(f"{name}:{d.source}", 0) + n
    assert len(expected) > len(docs) and sums["chars_rendered:gutenberg"] > 0
    with TestPipeline() as p:
        samples, outcomes, stats = p | beam.Create(docs) | Render(CFG, DEFAULT_ENCODING, Filters(), stats=True)
        assert_that(samples | beam.Map(lambda s: (s.key, s.pixels, s.to_wds()["json"])), equal_to(expected),
                    label="samples")
        assert_that(outcomes, equal_to(["written"] * 5 + ["skipped_empty_text"]), label="outcomes")
        assert_that(stats, equal_to(list(sums.items())), label="stats")


def test_size_batcher_cuts_at_the_size_and_keeps_every_item():
    from pixelkit.pipeline.batching import SizeBatcher

    b = SizeBatcher(10, len)
    got = [b.add(x) for x in ("aaaaa", "bbbbb", "c", "dddddddddddd", "ee")]
    assert got == [None, ["aaaaa", "bbbbb"], None, ["c", "dddddddddddd"], None]
    assert b.flush() == ["ee"] and b.flush() is None


def test_documents_are_batched_by_characters_and_none_is_lost(wikitext):
    from pixelkit.pipeline.batching import BatchBySizeFn
    from pixelkit.pipeline.transforms import doc_chars

    docs = [Document("w", f"d{i}", t) for i, t in enumerate(wikitext[:12])]
    with TestPipeline() as p:
        batches = p | beam.Create(docs) | beam.ParDo(BatchBySizeFn(3000, doc_chars))
        assert_that(batches | beam.FlatMap(lambda b: [d.doc_id for d in b]), equal_to([d.doc_id for d in docs]),
                    label="every document once")
        # a list closes as soon as it reaches 3,000 characters: without its last document it is under that
        assert_that(batches | beam.Map(lambda b: sum(len(d.text) for d in b[:-1]) < 3000) | beam.Distinct(),
                    equal_to([True]), label="closed at the budget")
