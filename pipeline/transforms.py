"""Beam DoFns and PTransforms: thin shells over chunking.py and samples.py, with counters for every outcome.

Every chunk ends as exactly one outcome -- ``written`` or ``skipped_<reason>`` -- so that each document's fate can
be derived and the accounting adds up: ``(doc_ref, outcome)`` per chunk on the ``--dedup`` path (``ChunkFn`` ->
``DedupChunks`` -> ``RenderFn``), ``(doc_ref, (DOC, *its chunks' distinct outcomes))`` per document on the default
path (``BatchBySizeFn`` -> Reshuffle -> ``ChunkRenderFn``, chunking and rendering fused).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from pixelkit.schemas import RenderedSample

from .batching import BatchBySizeFn
from .chunking import chunk_document
from .documents import Document, Skipped, TextChunk
from .render import RenderConfig, Renderer, TextRenderer
from .renderers import SharedRenderer
from .report import STATS
from .samples import Filters, chunk_key, render_chunk_result

log = logging.getLogger(__name__)
NS = "pipeline.transforms"
DOC = "document"  # the marker outcome that counts documents under one reference
# Documents travel to the render step in lists of about this many characters (~16 full strips of Latin text): a
# few WikiText articles or ~10 web documents per element, so Beam's per-element cost is paid per list.
BATCH_CHARS = 20_000
# Per-source sums on the "stats" output (pipeline/report.py reads them) (key f"{stat}:{source}"): characters of every chunk rendered (kept or
# skipped), those drawn as tofu, and control characters / lone surrogates replaced. The C0 separators
# U+001C..U+001F are whitespace to Python, so chunking drops them before a render could: counted at chunking.
_SEPARATORS = re.compile("[\x1c-\x1f]")


def doc_ref(source: str, doc_id: str) -> str:
    return f"{source}\t{doc_id}"


class _Chunker:
    """Document -> (chunks, outcome labels, stats): the chunking both ``ChunkFn`` and ``ChunkRenderFn`` run."""

    def __init__(self, cfg: RenderConfig, stats: bool, renderer: SharedRenderer):
        self._cfg, self._stats, self._renderer = cfg, stats, renderer
        self._chunks = Metrics.counter(NS, "chunks")
        self._empty = Metrics.counter(NS, "skipped_empty_document")
        self._replaced = Metrics.counter(NS, "replaced_chars")

    def __call__(self, doc: Document) -> tuple[list[TextChunk], list[str], list[tuple[str, int]]]:
        stats = []
        if self._stats and (n := len(_SEPARATORS.findall(doc.text))):
            self._replaced.inc(n)
            stats.append((f"replaced_chars:{doc.source}", n))
        r = self._renderer.get()
        r.prefetch([" ".join(doc.text.split())])  # the document's words in one go, split as chunking splits them
        chunks = chunk_document(doc, r.measure, r.text_budget, self._cfg.char_cap)
        if not chunks:
            self._empty.inc()
            return [], ["skipped_empty_text"], stats
        self._chunks.inc(len(chunks))
        return chunks, [], stats


class ChunkFn(beam.DoFn):
    """Document -> TextChunks that fill the budget; a document with no text is an outcome, not a chunk."""

    def __init__(self, cfg: RenderConfig, stats: bool = False, renderer: SharedRenderer | None = None):
        self._renderer = renderer or SharedRenderer(cfg)  # the one RenderFn draws with
        self._chunker = _Chunker(cfg, stats, self._renderer)

    def process(self, doc: Document):
        ref = doc_ref(doc.source, doc.doc_id)
        yield TaggedOutput("outcome", (ref, DOC))  # one marker per document, even when ids repeat
        chunks, labels, stats = self._chunker(doc)
        for kv in stats:
            yield TaggedOutput("stats", kv)
        for label in labels:
            yield TaggedOutput("outcome", (ref, label))
        yield from chunks


def _text_hash(chunk: TextChunk) -> tuple[str, TextChunk]:
    return hashlib.sha1(chunk.text.encode("utf-8", "surrogatepass")).hexdigest(), chunk


class _KeepFirstFn(beam.DoFn):
    """Of identical chunks keep the one with the smallest key (deterministic); the rest are outcomes (and, with
    ``stats``, ``chunks_skipped_duplicate:<source>`` counts, as chunks a filter skips are)."""

    def __init__(self, stats: bool = False):
        self._dups = Metrics.counter(NS, "skipped_duplicate")
        self._stats = stats

    def process(self, item):
        _, chunks = item
        ordered = sorted(chunks, key=chunk_key)
        yield ordered[0]
        for c in ordered[1:]:
            self._dups.inc()
            yield TaggedOutput("outcome", (doc_ref(c.source, c.doc_id), "skipped_duplicate"))
            if self._stats:
                yield TaggedOutput("stats", (f"chunks_skipped_duplicate:{c.source}", 1))


class DedupChunks(beam.PTransform):
    """Exact dedup of identical chunk texts within a run."""

    def __init__(self, stats: bool = False):
        super().__init__()
        self._stats = stats

    def expand(self, chunks):
        tags = ("outcome", "stats") if self._stats else ("outcome",)
        return (chunks | "HashText" >> beam.Map(_text_hash) | "GroupByText" >> beam.GroupByKey()
                | "KeepFirst" >> beam.ParDo(_KeepFirstFn(self._stats)).with_outputs(*tags, main="chunks"))


class _ChunkRenderer:
    """TextChunk -> (sample or None, outcome label, stats): the rendering both ``RenderFn`` and ``ChunkRenderFn``
    run, with the Beam counters of every outcome (tallied here, added to the counters by ``flush``: once per chunk
    in ``RenderFn``, once per list of documents in ``ChunkRenderFn``)."""

    def __init__(self, cfg: RenderConfig, encoding: str, filters: Filters, tokenizer_path: str | None, stats: bool):
        self._cfg, self._encoding, self._filters, self._stats = cfg, encoding, filters, stats
        self._tokenizer_path = tokenizer_path
        self._tofu = Metrics.counter(NS, "tofu_chars")
        self._replaced = Metrics.counter(NS, "replaced_chars")
        self._written = Metrics.counter(NS, "chunks_rendered")
        self._patches = Metrics.distribution(NS, "patches_per_sample")
        self._ms = Metrics.distribution(NS, "render_encode_us")
        self._skips: dict[str, object] = {}
        self._tally: dict[str, int] = {}

    def setup(self) -> None:
        self._tok = None
        if self._tokenizer_path:
            from .tokenizer import load

            self._tok = load(self._tokenizer_path)
        self._n, self._last_log, self._t0 = 0, time.monotonic(), time.monotonic()

    def __call__(self, chunk: TextChunk, r: Renderer) -> tuple[RenderedSample | None, str, list[tuple[str, int]]]:
        t0 = time.perf_counter()
        out, res = render_chunk_result(chunk, r, self._cfg, self._encoding, self._filters, self._tok)
        tally = self._tally
        tally["tofu"] = tally.get("tofu", 0) + res.unknown_glyphs
        tally["replaced"] = tally.get("replaced", 0) + res.replaced_chars
        stats = []
        if self._stats:
            for name, n in zip(STATS, (len(res.text) if res.ok else 0, res.unknown_glyphs, res.replaced_chars,
                                       res.unshaped_chars)):
                if n or name == "chars_rendered":
                    stats.append((f"{name}:{chunk.source}", n))
        if isinstance(out, Skipped):
            tally[out.count_name] = tally.get(out.count_name, 0) + 1
            if self._stats:  # a document some of whose chunks are written counts as written: the rest show here
                stats.append((f"chunks_{out.count_name}:{chunk.source}", 1))
            return None, out.count_name, stats
        self._ms.update(int((time.perf_counter() - t0) * 1e6))
        self._patches.update(out.num_patches)
        tally["written"] = tally.get("written", 0) + 1
        return out, "written", stats

    def flush(self) -> None:
        """Add the tallies to the Beam counters; log this worker's rate every 30 s."""
        for name, n in self._tally.items():
            if not n:
                continue
            if name == "tofu":
                self._tofu.inc(n)
            elif name == "replaced":
                self._replaced.inc(n)
            elif name == "written":
                self._written.inc(n)
                self._progress(n)
            else:
                if name not in self._skips:
                    self._skips[name] = Metrics.counter(NS, name)
                self._skips[name].inc(n)
        self._tally.clear()

    def _progress(self, n: int) -> None:
        self._n += n
        now = time.monotonic()
        if now - self._last_log >= 30:
            log.info("rendered %d chunks in this worker (%.0f/s)", self._n, self._n / (now - self._t0))
            self._last_log = now


class RenderFn(beam.DoFn):
    """TextChunk -> RenderedSample (main output) plus one outcome record per chunk (the ``--dedup`` path, where
    chunks are grouped by text between chunking and rendering)."""

    def __init__(self, cfg: RenderConfig, encoding: str, filters: Filters, tokenizer_path: str | None = None,
                 renderer_factory=TextRenderer, stats: bool = False, renderer: SharedRenderer | None = None):
        self._render = _ChunkRenderer(cfg, encoding, filters, tokenizer_path, stats)
        self._renderer = renderer or SharedRenderer(cfg, renderer_factory)  # factory: injectable for tests

    def setup(self):
        self._render.setup()

    def process(self, chunk: TextChunk):
        out, label, stats = self._render(chunk, self._renderer.get())
        self._render.flush()
        for kv in stats:
            yield TaggedOutput("stats", kv)
        yield TaggedOutput("outcome", (doc_ref(chunk.source, chunk.doc_id), label))
        if out is not None:
            yield out


def doc_chars(doc: Document) -> int:
    """A document's size for ``BatchBySizeFn`` on the default path: its characters. Which documents share a list
    changes nothing written (samples are keyed by document and chunk; outcomes and stats are per document and
    summed)."""
    return len(doc.text)


class ChunkRenderFn(beam.DoFn):
    """A list of documents -> RenderedSamples (main output), one outcome record per document and the batch's
    summed stats. Chunking and rendering are fused: a document's chunks are rendered right after chunking measured
    them, by the same (per-thread) renderer, whose shaping cache then holds every word of the chunk."""

    def __init__(self, cfg: RenderConfig, encoding: str, filters: Filters, tokenizer_path: str | None = None,
                 stats: bool = False, renderer: SharedRenderer | None = None):
        self._cfg, self._stats = cfg, stats
        self._renderer = renderer or SharedRenderer(cfg)  # chunking measures with the renderer that draws
        self._chunker = _Chunker(cfg, stats, self._renderer)
        self._render = _ChunkRenderer(cfg, encoding, filters, tokenizer_path, stats)

    def setup(self):
        self._render.setup()

    def process(self, docs: list[Document]):
        sums: dict[str, int] = {}
        for doc in docs:
            chunks, labels, stats = self._chunker(doc)
            r = self._renderer.get()
            for chunk in chunks:
                out, label, chunk_stats = self._render(chunk, r)
                labels.append(label)
                stats += chunk_stats
                if out is not None:
                    yield out
            for key, n in stats:
                sums[key] = sums.get(key, 0) + n
            yield TaggedOutput("outcome", (doc_ref(doc.source, doc.doc_id), (DOC, *sorted(set(labels)))))
        self._render.flush()
        for kv in sums.items():
            yield TaggedOutput("stats", kv)


def _document_outcomes(item) -> list[str]:
    """A document is written if any of its chunks was; otherwise skipped for its (first, sorted) reason.

    Documents that share a reference (a corpus that repeats an id) share its outcome, once per document."""
    _, grouped = item
    outcomes: list[str] = []
    for o in grouped:  # a label, or a document's marker and labels as one tuple (``ChunkRenderFn``)
        outcomes += o if isinstance(o, tuple) else [o]
    n_docs = outcomes.count(DOC)
    rest = sorted(set(outcomes) - {DOC})
    label = "written" if "written" in rest else (rest[0] if rest else "skipped_no_outcome")
    return [label] * n_docs


class Render(beam.PTransform):
    """Documents -> (samples, per-document outcome labels), and with ``stats=True`` a third PCollection: per-source
    sums ``(f"{stat}:{source}", n)`` for ``STATS``."""

    def __init__(self, cfg: RenderConfig, encoding: str, filters: Filters, tokenizer_path: str | None = None,
                 dedup: bool = False, stats: bool = False):
        self._cfg, self._encoding, self._filters = cfg, encoding, filters
        self._tokenizer_path, self._dedup, self._stats = tokenizer_path, dedup, stats

    def expand(self, docs):
        tags = ("outcome", "stats") if self._stats else ("outcome",)
        if self._dedup:  # chunks are grouped by text, so rendering happens after that shuffle, chunk by chunk
            shared = SharedRenderer(self._cfg)  # chunking measures with the renderer that draws
            chunked = (docs | "Chunk" >> beam.ParDo(ChunkFn(self._cfg, self._stats, shared))
                       .with_outputs(*tags, main="chunks"))
            deduped = chunked.chunks | "Dedup" >> DedupChunks(self._stats)
            rendered = (deduped.chunks
                        | "RenderChunks" >> beam.ParDo(RenderFn(self._cfg, self._encoding, self._filters,
                                                                self._tokenizer_path, stats=self._stats,
                                                                renderer=shared))
                        .with_outputs(*tags, main="samples"))
            outcomes = [chunked.outcome, deduped.outcome, rendered.outcome]
            stats = [chunked.stats, deduped.stats, rendered.stats] if self._stats else []
        else:  # documents spread over workers in lists; each chunked and rendered by the same worker and thread
            rendered = (docs | "Batch" >> beam.ParDo(BatchBySizeFn(BATCH_CHARS, doc_chars))
                        | "Spread" >> beam.Reshuffle()
                        | "ChunkAndRender" >> beam.ParDo(ChunkRenderFn(self._cfg, self._encoding, self._filters,
                                                                       self._tokenizer_path, stats=self._stats))
                        .with_outputs(*tags, main="samples"))
            outcomes = [rendered.outcome]
            stats = [rendered.stats] if self._stats else []
        doc_outcomes = (outcomes | "AllOutcomes" >> beam.Flatten() | "ByDocument" >> beam.GroupByKey()
                        | "DocumentOutcome" >> beam.FlatMap(_document_outcomes))
        if not self._stats:
            return rendered.samples, doc_outcomes
        stats = stats | "AllStats" >> beam.Flatten() | "SumStats" >> beam.CombinePerKey(sum)
        return rendered.samples, doc_outcomes, stats
