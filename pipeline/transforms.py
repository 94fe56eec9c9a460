"""Beam DoFns and PTransforms: thin shells over chunking.py and samples.py, with counters for every outcome.

Every chunk ends as exactly one outcome record ``(doc_ref, outcome)`` -- ``written`` or ``skipped_<reason>``
-- so that each document's fate can be derived and the accounting adds up.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from .chunking import chunk_document
from .documents import Document, Skipped, TextChunk
from .render import RenderConfig, TextRenderer
from .renderers import SharedRenderer
from .report import STATS
from .samples import Filters, chunk_key, render_chunk_result

log = logging.getLogger(__name__)
NS = "pipeline.transforms"
DOC = "document"  # the marker outcome that counts documents under one reference
# Per-source sums on the "stats" output (pipeline/report.py reads them) (key f"{stat}:{source}"): characters of every chunk rendered (kept or
# skipped), those drawn as tofu, and control characters / lone surrogates replaced. The C0 separators
# U+001C..U+001F are whitespace to Python, so chunking drops them before a render could: counted at chunking.
_SEPARATORS = re.compile("[\x1c-\x1f]")


def doc_ref(source: str, doc_id: str) -> str:
    return f"{source}\t{doc_id}"


class ChunkFn(beam.DoFn):
    """Document -> TextChunks that fill the budget; a document with no text is an outcome, not a chunk."""

    def __init__(self, cfg: RenderConfig, stats: bool = False, renderer: SharedRenderer | None = None):
        self._cfg, self._stats = cfg, stats
        self._renderer = renderer or SharedRenderer(cfg)  # the one RenderFn draws with (renderers.py)
        self._chunks = Metrics.counter(NS, "chunks")
        self._empty = Metrics.counter(NS, "skipped_empty_document")
        self._replaced = Metrics.counter(NS, "replaced_chars")

    def process(self, doc: Document):
        ref = doc_ref(doc.source, doc.doc_id)
        yield TaggedOutput("outcome", (ref, DOC))  # one marker per document, even when ids repeat
        if self._stats and (n := len(_SEPARATORS.findall(doc.text))):
            self._replaced.inc(n)
            yield TaggedOutput("stats", (f"replaced_chars:{doc.source}", n))
        r = self._renderer.get()
        r.prefetch([" ".join(doc.text.split())])  # the document's words in one go, split as chunking splits them
        chunks = chunk_document(doc, r.measure, r.text_budget)
        if not chunks:
            self._empty.inc()
            yield TaggedOutput("outcome", (ref, "skipped_empty_text"))
            return
        self._chunks.inc(len(chunks))
        yield from chunks


def _text_hash(chunk: TextChunk) -> tuple[str, TextChunk]:
    return hashlib.sha1(chunk.text.encode("utf-8", "surrogatepass")).hexdigest(), chunk


class _KeepFirstFn(beam.DoFn):
    """Of identical chunks keep the one with the smallest key (deterministic); the rest are outcomes."""

    def __init__(self):
        self._dups = Metrics.counter(NS, "skipped_duplicate")

    def process(self, item):
        _, chunks = item
        ordered = sorted(chunks, key=chunk_key)
        yield ordered[0]
        for c in ordered[1:]:
            self._dups.inc()
            yield TaggedOutput("outcome", (doc_ref(c.source, c.doc_id), "skipped_duplicate"))


class DedupChunks(beam.PTransform):
    """Exact dedup of identical chunk texts within a run."""

    def expand(self, chunks):
        return (chunks | "HashText" >> beam.Map(_text_hash) | "GroupByText" >> beam.GroupByKey()
                | "KeepFirst" >> beam.ParDo(_KeepFirstFn()).with_outputs("outcome", main="chunks"))


class RenderFn(beam.DoFn):
    """TextChunk -> RenderedSample (main output) plus one outcome record per chunk."""

    def __init__(self, cfg: RenderConfig, encoding: str, filters: Filters, tokenizer_path: str | None = None,
                 renderer_factory=TextRenderer, stats: bool = False, renderer: SharedRenderer | None = None):
        self._cfg, self._encoding, self._filters, self._stats = cfg, encoding, filters, stats
        self._tofu = Metrics.counter(NS, "tofu_chars")
        self._replaced = Metrics.counter(NS, "replaced_chars")
        self._tokenizer_path = tokenizer_path
        self._renderer = renderer or SharedRenderer(cfg, renderer_factory)  # factory: injectable for tests
        self._written = Metrics.counter(NS, "chunks_rendered")
        self._patches = Metrics.distribution(NS, "patches_per_sample")
        self._ms = Metrics.distribution(NS, "render_encode_us")
        self._skips: dict[str, object] = {}

    def setup(self):
        self._tok = None
        if self._tokenizer_path:
            from .tokenizer import load

            self._tok = load(self._tokenizer_path)
        self._n, self._last_log, self._t0 = 0, time.monotonic(), time.monotonic()

    def process(self, chunk: TextChunk):
        t0 = time.perf_counter()
        r = self._renderer.get()
        out, res = render_chunk_result(chunk, r, self._cfg, self._encoding, self._filters, self._tok)
        ref = doc_ref(chunk.source, chunk.doc_id)
        self._tofu.inc(res.unknown_glyphs)
        self._replaced.inc(res.replaced_chars)
        if self._stats:
            for name, n in zip(STATS, (len(res.text) if res.ok else 0, res.unknown_glyphs, res.replaced_chars)):
                if n or name == "chars_rendered":
                    yield TaggedOutput("stats", (f"{name}:{chunk.source}", n))
        if isinstance(out, Skipped):
            if out.count_name not in self._skips:
                self._skips[out.count_name] = Metrics.counter(NS, out.count_name)
            self._skips[out.count_name].inc()
            yield TaggedOutput("outcome", (ref, out.count_name))
            return
        self._ms.update(int((time.perf_counter() - t0) * 1e6))
        self._patches.update(out.num_patches)
        self._written.inc()
        self._progress()
        yield TaggedOutput("outcome", (ref, "written"))
        yield out

    def _progress(self) -> None:
        self._n += 1
        now = time.monotonic()
        if now - self._last_log >= 30:
            log.info("rendered %d chunks in this worker (%.0f/s)", self._n, self._n / (now - self._t0))
            self._last_log = now


def _document_outcomes(item) -> list[str]:
    """A document is written if any of its chunks was; otherwise skipped for its (first, sorted) reason.

    Documents that share a reference (a corpus that repeats an id) share its outcome, once per document."""
    _, outcomes = item
    outcomes = list(outcomes)
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
        shared = SharedRenderer(self._cfg)  # chunking measures with the renderer that draws
        chunked = (docs | "Chunk" >> beam.ParDo(ChunkFn(self._cfg, self._stats, shared))
                   .with_outputs(*tags, main="chunks"))
        chunks, outcomes = chunked.chunks, [chunked.outcome]
        if self._dedup:
            deduped = chunks | "Dedup" >> DedupChunks()
            chunks = deduped.chunks
            outcomes.append(deduped.outcome)
        rendered = (chunks | "Spread" >> beam.Reshuffle()
                    | "RenderChunks" >> beam.ParDo(RenderFn(self._cfg, self._encoding, self._filters,
                                                            self._tokenizer_path, stats=self._stats, renderer=shared))
                    .with_outputs(*tags, main="samples"))
        outcomes.append(rendered.outcome)
        doc_outcomes = (outcomes | "AllOutcomes" >> beam.Flatten() | "ByDocument" >> beam.GroupByKey()
                        | "DocumentOutcome" >> beam.FlatMap(_document_outcomes))
        if not self._stats:
            return rendered.samples, doc_outcomes
        stats = ((chunked.stats, rendered.stats) | "AllStats" >> beam.Flatten()
                 | "SumStats" >> beam.CombinePerKey(sum))
        return rendered.samples, doc_outcomes, stats
