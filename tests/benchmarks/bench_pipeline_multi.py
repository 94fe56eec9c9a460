"""The pipeline benchmark's multilingual row: the local Beam job's CPU against the raw work's CPU on the multilingual
render benchmark's corpus (the UDHR in its 14 scripts' languages, the mixed-script texts, the Bulgarian Wikipedia
excerpt).

    python tests/benchmarks/bench_pipeline_multi.py --out tests/benchmarks/results/pipeline_multi.md

Measured exactly as ``bench_pipeline.py`` measures English WikiText (its ``--job`` / ``--raw`` subprocesses, start-up
job, rounds and efficiency table), so the two rows compare; the shaping cache meets far fewer repeated words here
(each language is one short document).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import efficiency_table, load_line, measure, scaling_lines, write_inputs  # noqa: E402
from bench_render_multi import BGWIKI, MIXED, SCRIPTS, bgwiki_articles, mixed, udhr_texts  # noqa: E402
from common import ROOT, machine_info, write_report  # noqa: E402


def documents() -> list[str]:
    udhr = udhr_texts()
    docs = [udhr[lang] for langs in SCRIPTS.values() for lang in langs]
    docs += [mixed(udhr[lang].replace("\n", " "), udhr["en"]) for lang in MIXED.values()]
    if BGWIKI.is_file():
        docs += [t for t in bgwiki_articles() if len(t) > 200]
    return docs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "tests/benchmarks/results/pipeline_multi.md")
    ap.add_argument("--copies", type=int, default=3, help="repeat the documents (new ids) to amortise start-up")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1])
    ap.add_argument("--baseline", type=Path, help="another checkout (e.g. the previous commit) measured alike")
    a = ap.parse_args()
    docs = documents() * a.copies
    variants = [("this", ROOT)] + ([("baseline", a.baseline.resolve())] if a.baseline else [])
    with tempfile.TemporaryDirectory() as tmp:
        corpus, tiny, tok = write_inputs(docs, Path(tmp), "multi")
        res = measure(corpus, tiny, tok, Path(tmp), variants, a.workers, a.rounds)
    table, _ = efficiency_table(res, variants, a.workers)
    lines = ["# Pipeline benchmark, multilingual row", "", *machine_info(("apache-beam", "numpy", "tokenizers")),
             f"- input: {len(docs)} documents ({a.copies} copies under distinct ids): the UDHR in "
             f"{sum(map(len, SCRIPTS.values()))} languages of 14 scripts, {len(MIXED)} mixed-script texts, the "
             f"Bulgarian Wikipedia excerpt ({sum(map(len, docs)):,} chars) as jsonl; {a.rounds} interleaved rounds, "
             "medians; measured as `bench_pipeline.py` measures English (CPU seconds, see there)",
             load_line(res), "", *table, *scaling_lines(res, variants)]
    write_report(a.out, lines)


if __name__ == "__main__":
    main()
