"""The pipeline benchmark's multilingual row: the DirectRunner job vs the raw work per sample on the multilingual
render benchmark's corpus (the UDHR in its 14 scripts' languages, the mixed-script texts, the Bulgarian Wikipedia
excerpt), one worker.

    python tests/benchmarks/bench_pipeline_multi.py --out tests/benchmarks/results/pipeline_multi.md

Measured as ``bench_pipeline.py`` measures English WikiText (the same job, flags and raw path), so the two rows
compare; the shaping cache meets far fewer repeated words here (each language is one short document).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_render_multi import BGWIKI, MIXED, SCRIPTS, bgwiki_articles, mixed, udhr_texts  # noqa: E402
from common import ROOT, machine_info, pin_one_core, write_report  # noqa: E402

from pixelkit.pipeline.chunking import chunk_document  # noqa: E402
from pixelkit.pipeline.documents import Document  # noqa: E402
from pixelkit.pipeline.main import run  # noqa: E402
from pixelkit.pipeline.render import RenderConfig, TextRenderer  # noqa: E402
from pixelkit.pipeline.samples import Filters, render_chunk  # noqa: E402
from pixelkit.pipeline.tokenizer import train_bpe  # noqa: E402


def documents() -> list[tuple[str, str]]:
    udhr = udhr_texts()
    docs = [(lang, udhr[lang]) for langs in SCRIPTS.values() for lang in langs]
    docs += [(f"mixed-{lang}", mixed(udhr[lang].replace("\n", " "), udhr["en"])) for lang in MIXED.values()]
    if BGWIKI.is_file():
        docs += [(f"bgwiki-{i}", t) for i, t in enumerate(bgwiki_articles()) if len(t) > 200]
    return docs


def cpu() -> float:
    """CPU seconds of this process and its finished children (Beam's workers): the machine may be shared."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "tests/benchmarks/results/pipeline_multi.md")
    ap.add_argument("--copies", type=int, default=2, help="repeat the documents (new ids) to amortise start-up")
    a = ap.parse_args()
    pinned = pin_one_core()
    docs = [(f"{name}-{c}", t) for c in range(a.copies) for name, t in documents()]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = tmp / "multi.jsonl"
        corpus.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in docs),
                          encoding="utf-8")
        tok = train_bpe(iter(t for _, t in docs), 16000, tmp / "tok.json")
        tiny = tmp / "tiny.jsonl"
        tiny.write_text("".join(json.dumps({"id": f"t{i}", "text": t[:500]}, ensure_ascii=False) + "\n"
                                for i, (_, t) in enumerate(docs[:2])), encoding="utf-8")
        t0, c0 = time.perf_counter(), cpu()
        run([f"--input=tiny={tiny}", f"--output={tmp / 'tiny'}", "--workers=1"])
        startup, startup_cpu = time.perf_counter() - t0, cpu() - c0
        t0, c0 = time.perf_counter(), cpu()
        m = run([f"--input=multi={corpus}", f"--output={tmp / 'shards'}", f"--tokenizer={tok}", "--encoding=pxz",
                 "--workers=1", "--samples_per_shard=1000"])
        wall, job_cpu = time.perf_counter() - t0, cpu() - c0
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tok))
        cfg = RenderConfig()
        r = TextRenderer(cfg)
        r("warm up Москва")  # loads the compiled kernels (one script and two), as the job's start-up does

        def chunk(d: str) -> list:
            r.prefetch([" ".join(d.split())])
            return chunk_document(Document("m", "x", d), r.measure, r.text_budget)

        t0 = time.process_time()
        chunks = [c for _, d in docs for c in chunk(d)]
        chunk_per_sample = (time.process_time() - t0) / len(chunks)
        t0 = time.process_time()
        for c in chunks:
            render_chunk(c, r, cfg, "pxz", Filters(), tokenizer)
        raw_per_sample = (time.process_time() - t0) / len(chunks)
        stats = r.cache_stats
    raw = raw_per_sample + chunk_per_sample
    net = (job_cpu - startup_cpu) / m.num_samples
    lines = ["# Pipeline benchmark, multilingual row", "", *machine_info(("apache-beam", "numpy", "tokenizers")),
             f"- input: {len(docs)} documents ({a.copies} copies under distinct ids): the UDHR in "
             f"{sum(map(len, SCRIPTS.values()))} languages of 14 scripts, {len(MIXED)} mixed-script texts, the "
             f"Bulgarian Wikipedia excerpt ({sum(len(t) for _, t in docs):,} chars) as jsonl; {pinned}",
             "- times are CPU seconds (the job's: this process and its finished children; the raw pass's: this "
             "process), as the machine was shared by other jobs; wall-clock seconds beside them", "",
             "| corpus | wall s | job CPU s | documents | samples | job CPU-ms/sample | net of a 2-document job's CPU "
             "| raw CPU-ms/sample | raw samples/CPU-s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
             f"| multilingual | {wall:.1f} | {job_cpu:.1f} | {m.counts['documents_written']} | {m.num_samples} | "
             f"{job_cpu / m.num_samples * 1000:.2f} | {net * 1000:.2f} | {raw * 1000:.2f} | {1 / raw:.1f} |", "",
             "- the job's CPU counts this process and the children it has reaped; the 2-document job ran first and "
             "paid the imports the main job did not, so 'net' understates the job's fixed cost and the true per-sample "
             "cost lies between the two columns",
             f"- raw work per sample in-process (chunking + render + pxz + tokenize): {raw * 1000:.2f} CPU-ms (render+"
             f"encode+tokenize {raw_per_sample * 1000:.2f}, chunking {chunk_per_sample * 1000:.2f}; one pass, as the job)",
             f"- start-up + teardown of a DirectRunner job (2-document run): {startup_cpu:.1f} CPU-s ({startup:.1f} s wall)",
             f"- shaping cache on the raw pass: {stats['composed']} strips composed of {stats['lookups']} lookups, "
             f"{stats['gated']} sent to Pango by the script gate before any shaping"]
    write_report(a.out, lines)


if __name__ == "__main__":
    main()
