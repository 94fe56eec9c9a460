"""In-process A/B of ``mixbatch.mixed_batch`` (the batch of a mixed strip's new words): another checkout's module
(``--base``, loaded beside this checkout's) against this checkout's, on every call a fresh renderer makes on the
first pass of the given ``bench_render_multi.corpus`` rows (recorded once, replayed); both must give the same
batches, then both are timed on the same calls, taking turns going first, thread clock, median over rounds.

    mkdir -p /tmp/hvbase/repo && git -C /work/main archive main | tar -x -C /tmp/hvbase/repo
    python tests/benchmarks/ab_mixed_batch.py --base /tmp/hvbase/repo "Mixed: Russian + Latin names/numbers"
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_render_multi import WARM_UP, corpus  # noqa: E402
from common import pin_one_core  # noqa: E402

from pixelkit.pipeline.render import RenderConfig, TextRenderer  # noqa: E402
from pixelkit.pipeline.render.pango import mixbatch, shapecache  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, required=True, help="the other checkout (its pango/mixbatch.py)")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("rows", nargs="+")
    a = ap.parse_args()
    pin_one_core()
    spec = importlib.util.spec_from_file_location("pixelkit.pipeline.render.pango.mixbatch_base",
                                                  a.base / "pipeline/render/pango/mixbatch.py")
    base = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(base)
    rows, calls, this = corpus(24), [], mixbatch.mixed_batch

    def record(words, ids, table, weak):
        calls.append((list(words), list(ids), table.copy(), dict(weak)))
        return this(words, ids, table, weak)

    shapecache.mixed_batch = record
    for name in a.rows:
        r = TextRenderer(RenderConfig())
        for t in WARM_UP:
            r(t)
        for t in rows[name]:
            r(t)
    shapecache.mixed_batch = this
    for c in calls:
        x, y = base.mixed_batch(*c), this(*c)
        assert x[0] == y[0] and np.array_equal(x[1], y[1]), "the two checkouts give different batches"
    spent = {"base": [], "this": []}
    for rnd in range(a.rounds):
        for side, fn in (("base", base.mixed_batch), ("this", this))[::1 if rnd % 2 else -1]:
            t0 = time.thread_time()
            for c in calls:
                fn(*c)
            spent[side].append((time.thread_time() - t0) / len(calls) * 1e6)
    print(f"{len(calls)} calls, {statistics.mean(len(c[0]) for c in calls):.0f} words a call, same batches")
    for side, v in spent.items():
        print(f"{side}: us/call median {statistics.median(v):.1f} [{min(v):.1f}-{max(v):.1f}]")
    ratio = [t / b for b, t in zip(spent["base"], spent["this"])]
    print(f"this / base per round: median {statistics.median(ratio):.2f} [{min(ratio):.2f}-{max(ratio):.2f}]")


if __name__ == "__main__":
    main()
