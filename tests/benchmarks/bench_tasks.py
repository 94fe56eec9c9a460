"""Word-level task rendering (POS / NER / parsing input) vs xplip/pixel's own word-level path, side by side.

    python tests/benchmarks/bench_tasks.py --peers /tmp/peers --out tests/benchmarks/results/tasks.md

The same UD English-EWT sentences (the test split from ../shared/data, else the bundled excerpt; surface words as
our CoNLL-U reader gives them) are rendered at PIXEL's settings (GoNoto 8 pt @ 120 dpi, 16 px patches) with 256
patches (PIXEL's POS example, ``--max_seq_length=256``) by PIXEL's PangoCairoTextRenderer called with a word list
(what its POS/UD/NER datasets do; run in its throwaway venv, ``peers.py setup --peer xplip-pixel``) and by ours:
``render_words`` through Pango only, and with the shaping cache on a first pass (fresh renderer: every word new
when met) and a second pass; ``render_record`` (render + labels + pxz + the sample: the job's per-record work),
per record and in the job's batches of 64 after one prefetch (each sentence timed, plus its share of the
batch's prefetch); and by a renderer that has first rendered the train split (12,544 sentences, not timed), as
one worker of a job over train + test does. The machine is shared, so the sentences go in
rounds, PIXEL and ours one after the other in each round (our renderers carry their caches from round to round,
as one worker would): a load change hits both. The whole ``pixel-render task`` job on the same sentences
(DirectRunner, in process) is timed too. Strips and word starts are compared with PIXEL's. One core, medians.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, clock, machine_info, pin_one_core, write_report  # noqa: E402

from pixelkit.pipeline.render import RenderConfig, TextRenderer  # noqa: E402
from pixelkit.schemas import encode_pixels  # noqa: E402
from pixelkit.pipeline.tasks import LabelledRecord, read_records, resolve  # noqa: E402
from pixelkit.pipeline.tasks.render import prefetch_texts, render_record  # noqa: E402

log = logging.getLogger("bench_tasks")
EWT = ROOT.parent / "shared" / "data" / "ud" / "UD_English-EWT" / "en_ewt-ud-test.conllu"
EWT_TRAIN = EWT.with_name("en_ewt-ud-train.conllu")
BUNDLED = ROOT / "pipeline" / "sample_data" / "en_ewt-ud-test-excerpt.conllu"
PATCHES = 256
UNRELATED = "A sentence of none of the strips loads the compiled kernels first."
ROWS = ("render_words, Pango only", "render_words, shape cache, first pass", "render_words, shape cache, second pass",
        "render_record (render + labels + pxz + sample), first pass")
BATCHED = "render_words, first pass, batches of 64 prefetched (the job's batches)"
AFTER_TRAIN = "render_words, shape cache, after the train split (one worker renders all of a job's splits)"
BATCHED_RECORD = "render_record, first pass, batches of 64 prefetched (the job's RenderTaskFn)"
ENCODE = "encode_pixels(pxz) of a rendered strip alone (schemas/codec.py)"
STAGE_RENDER = "stage: render_words + prefetch share, followed by the strip's pxz encoding (the job's batches)"
STAGE_ENCODE = "stage: encode_pixels(pxz) right after each render (the job's batches)"


def each_ms(fn, items) -> list[float]:
    out, now = [], clock()
    for x in items:
        t0 = now()
        fn(x)
        out.append((now() - t0) * 1000)
    return out


class Ours:
    """Our renderers, kept across rounds."""

    def __init__(self, cfg: RenderConfig, vocab: dict[str, int], train: list[list[str]]):
        self.cfg, self.vocab, self.task = cfg, vocab, resolve("ud-en_ewt-pos")
        self.pango = TextRenderer(cfg, shape_cache=False)
        self.cache, self.record, self.batched, self.batched_record, self.staged = (TextRenderer(cfg) for _ in range(5))
        self.warm, self.warm_used = TextRenderer(cfg), bool(train)
        for r in (self.pango, self.cache, self.record, self.batched, self.batched_record, self.staged, self.warm):
            r(UNRELATED)
        for i in range(0, len(train), 64):  # not timed: the train split, as the job renders it first
            self.warm.prefetch([" ".join(w) for w in train[i:i + 64]])
            for w in train[i:i + 64]:
                self.warm.render_words(w)
        self.times = {k: [] for k in (*ROWS, BATCHED, BATCHED_RECORD, ENCODE, STAGE_RENDER, STAGE_ENCODE, AFTER_TRAIN)}

    def round(self, recs: list[LabelledRecord]) -> list:
        words = [list(r.words) for r in recs]
        t = self.times
        t[ROWS[0]] += each_ms(self.pango.render_words, words)
        t[ROWS[1]] += each_ms(self.cache.render_words, words)
        t[ROWS[2]] += each_ms(self.cache.render_words, words)
        if self.warm_used:
            t[AFTER_TRAIN] += each_ms(self.warm.render_words, words)
        t[ROWS[3]] += each_ms(lambda rec: render_record(rec, self.record, self.cfg, "pxz", self.task, self.vocab), recs)
        for i in range(0, len(recs), 64):  # the job's batches: each sentence's time + its share of the prefetch
            batch = recs[i:i + 64]
            now = clock()
            t0 = now()
            self.batched.prefetch(prefetch_texts(batch))
            share = (now() - t0) * 1000 / len(batch)
            t[BATCHED] += [ms + share for ms in each_ms(lambda r: self.batched.render_words(list(r.words)), batch)]
            t0 = now()
            self.batched_record.prefetch(prefetch_texts(batch))
            share = (now() - t0) * 1000 / len(batch)
            t[BATCHED_RECORD] += [ms + share for ms in each_ms(
                lambda rec: render_record(rec, self.batched_record, self.cfg, "pxz", self.task, self.vocab), batch)]
            t0 = now()  # the same work in stages: how much of a record is rendering, how much encoding
            self.staged.prefetch(prefetch_texts(batch))
            share = (now() - t0) * 1000 / len(batch)
            for rec in batch:
                t0 = now()
                res = self.staged.render_words(list(rec.words))
                t1 = now()
                encode_pixels(res.pixels, self.cfg.mode, "pxz")
                t[STAGE_RENDER].append((t1 - t0) * 1000 + share)
                t[STAGE_ENCODE].append((now() - t1) * 1000)
        out = [self.cache.render_words(w) for w in words]
        t[ENCODE] += each_ms(lambda res: encode_pixels(res.pixels, self.cfg.mode, "pxz"), out)
        return out


def run_peer(peers: Path, recs: list[LabelledRecord], tmp: Path) -> dict:
    py = peers / "xplip-pixel" / "bin" / "python"
    if not py.exists():
        return {"error": f"not set up ({py} missing): python tests/benchmarks/peers.py setup --peer xplip-pixel"}
    wf, out = tmp / "words.jsonl", tmp / "pixel.npz"
    wf.write_text("".join(json.dumps({"words": list(r.words)}, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    proc = subprocess.run(["taskset", "-c", "0", str(py), str(Path(__file__).with_name("peers.py")), "words", "--words",
                           str(wf), "--out", str(out), "--patches", str(PATCHES), "--repo",
                           str(peers / "xplip-pixel" / "src-tree")], capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["pixels"] = np.load(out)["pixels"]
    res["word_starts"] = json.loads(out.with_suffix(".json").read_text())
    commit = peers / "xplip-pixel" / "src-tree" / "COMMIT"
    res["version"] = f"xplip/pixel@{commit.read_text().strip()[:10]}" if commit.exists() else "xplip/pixel"
    return res


def glue_format_check(peers: Path) -> str:
    """Our GLUE text clean-up vs PIXEL's own ``glue_strip_spaces`` (only that function is compiled from its
    fetched source, src/pixel/utils/misc.py, whose module imports torch) on every GLUE sentence in ../shared."""
    import ast

    from pixelkit.pipeline.tasks.render import glue_format

    misc = peers / "xplip-pixel" / "src-tree" / "src" / "pixel" / "utils" / "misc.py"
    glue = ROOT.parent / "shared" / "data" / "glue"
    if not misc.is_file() or not glue.is_dir():
        return "- GLUE text clean-up vs PIXEL's glue_strip_spaces: not run (no peer source or no ../shared/data/glue)"
    tree = ast.parse(misc.read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "glue_strip_spaces")
    scope: dict = {}
    exec(compile(ast.Module([fn], []), str(misc), "exec"), scope)
    texts = []
    for f in sorted(glue.glob("*/*.tsv")):
        name = "glue-" + f.parent.name.lower().replace("-", "")
        texts += [t for r in read_records(str(f), resolve(name)) if isinstance(r, LabelledRecord) for t in (r.text, r.text_b) if t]
    same = sum(glue_format(t) == scope["glue_strip_spaces"](t) for t in texts)
    return f"- GLUE text clean-up identical to PIXEL's glue_strip_spaces: {same}/{len(texts)} sentences (every GLUE file in ../shared)"


def run_job(path: Path, tmp: Path, n: int) -> dict:
    from pixelkit.pipeline.tasks.job import run_task

    t0 = time.perf_counter()
    ms = run_task(["--task=ud-en_ewt-pos", f"--input=test={path}", "--vocab_split=test", f"--output={tmp / 'job'}",
                   f"--max_patches={PATCHES}", "--samples_per_shard=1000", f"--limit={n}"])
    secs = time.perf_counter() - t0
    n = ms["test"].counts["records_read"]
    return {"records": n, "seconds": secs, "mean_ms": secs / n * 1000}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=0, help="first N sentences (0: all)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--peers", type=Path, default=Path("/tmp/peers"), help="where peers.py setup made the venvs")
    ap.add_argument("--out", type=Path, default=ROOT / "tests/benchmarks/results/tasks.md")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="per-call timer, ours and the peer's alike: wall time, or the thread's CPU time (loaded machine)")
    a = ap.parse_args()
    if a.clock == "cpu":
        import os
        os.environ["PIXELKIT_BENCH_CLOCK"] = "thread"  # the peer's subprocess inherits it
    pinned = pin_one_core()
    src = EWT if EWT.is_file() else BUNDLED
    recs = [r for r in read_records(str(src), resolve("ud-en_ewt-pos"), limit=a.n) if isinstance(r, LabelledRecord)]
    cfg = RenderConfig(max_patches=PATCHES)
    train = ([list(r.words) for r in read_records(str(EWT_TRAIN), resolve("ud-en_ewt-pos")) if isinstance(r, LabelledRecord)]
             if src == EWT and EWT_TRAIN.is_file() else [])
    ours = Ours(cfg, {t: i for i, t in enumerate(sorted({t for r in recs for t in r.tags}))}, train)
    size = -(-len(recs) // a.rounds)
    results, peer_times, peer_px, peer_ws, round_ratios, peer = [], [], [], [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(0, len(recs), size):
            chunk = recs[i:i + size]
            peer = run_peer(a.peers, chunk, Path(tmp))
            before = len(ours.times[ROWS[1]])
            results += ours.round(chunk)
            if "error" in peer:
                continue
            peer_times += peer["times_ms"]
            peer_px.append(peer["pixels"])
            peer_ws += peer["word_starts"]
            round_ratios.append(statistics.median(peer["times_ms"]) / statistics.median(ours.times[ROWS[1]][before:]))
        job = run_job(src, Path(tmp), a.n)
    fits = [i for i, res in enumerate(results) if not res.truncated]
    lines = ["# Task rendering benchmark: word-level (POS / NER / parsing input)", "",
             *machine_info(("numpy", "pangocffi", "pangocairocffi", "apache-beam", "zstandard")),
             f"- {len(recs)} UD English-EWT sentences ({src.name}, surface words, {sum(len(r.words) for r in recs):,} "
             f"words) in {a.rounds} rounds, PIXEL settings at {PATCHES} patches; {pinned}; per-call times are "
             f"{'thread CPU time (--clock cpu: the machine was loaded)' if a.clock == 'cpu' else 'wall time'}, "
             "ours and the peer's alike (the whole job: wall time)", "",
             "| renderer | median ms / sentence | mean ms | sentences/s (median) |", "|---|---:|---:|---:|"]
    if "error" in peer:
        lines.append(f"| peer xplip/pixel | not run: {peer['error']} | | |")
    else:
        pm, pmean = statistics.median(peer_times), statistics.fmean(peer_times)
        lines.append(f"| peer {peer['version']} `renderer(words)` | {pm:.3f} | {pmean:.3f} | {1000 / pm:,.0f} |")
    names = [n for n in (*ROWS, BATCHED, BATCHED_RECORD, ENCODE, STAGE_RENDER, STAGE_ENCODE, AFTER_TRAIN) if ours.times[n]]
    for name in names:
        t = ours.times[name]
        lines.append(f"| pixelkit {name} | {statistics.median(t):.3f} | {statistics.fmean(t):.3f} | "
                     f"{1000 / statistics.median(t):,.0f} |")
    lines.append(f"| pixelkit `pixel-render task` job (DirectRunner in process, start-up included) | — | "
                 f"{job['mean_ms']:.3f} | {1000 / job['mean_ms']:,.0f} (mean) |")
    mean = {n: statistics.fmean(ours.times[n]) for n in names}
    rec, ren, enc = mean[BATCHED_RECORD], mean[STAGE_RENDER], mean[STAGE_ENCODE]
    lines += ["", "## Where a record's time goes (the job's batches, means; render and encode timed in turn on one "
              "renderer, as the job runs them)", "",
              f"- `render_record` in all: {rec:.3f} ms",
              f"- rendering the words (`render_words` + its prefetch share; pipeline/render): {ren:.3f} ms ({ren / rec:.0%})",
              f"- pxz encoding of the strip (`encode_pixels`; schemas/codec.py): {enc:.3f} ms ({enc / rec:.0%}; "
              f"{mean[ENCODE]:.3f} ms in a loop of encodes alone, caches warm)",
              f"- the rest -- labels, key, the sample (pipeline/tasks/render.py): {rec - ren - enc:.3f} ms "
              f"({(rec - ren - enc) / rec:.0%})"]
    lines += ["", "## Side by side", ""]
    if "error" not in peer:
        for name in names:
            t = ours.times[name]
            lines.append(f"- {name}: **{pm / statistics.median(t):.2f}x** PIXEL's word-level rendering by medians, "
                         f"{pmean / statistics.fmean(t):.2f}x by means (target >= 2x)")
        lines.append(f"- shape cache first pass vs PIXEL per round (medians): "
                     f"{', '.join(f'{r:.2f}x' for r in round_ratios)}")
        lines.append(f"- whole job ({job['records']} records in {job['seconds']:.1f} s, Beam start-up and the pxz sink "
                     f"included): {pmean / job['mean_ms']:.2f}x PIXEL's rendering alone, by means")
        px = np.concatenate(peer_px)
        same_px = sum(np.array_equal(results[i].pixels, px[i]) for i in fits)
        same_ws = sum(results[i].word_starts == peer_ws[i][:-1] for i in fits)
        lines.append(f"- pixel-identical to PIXEL's strips: {same_px}/{len(fits)} sentences that fit in {PATCHES} "
                     f"patches; word starts identical: {same_ws}/{len(fits)} (PIXEL's list also holds the EOS patch)")
        lines.append(f"- {len(recs) - len(fits)} sentences do not fit (we stop before the first word that does not fit "
                     "and flag the sample truncated; PIXEL draws that word clipped at the strip's end): not compared")
    lines.append(glue_format_check(a.peers))
    write_report(a.out, lines)


if __name__ == "__main__":
    main()
