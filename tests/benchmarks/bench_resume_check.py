"""What ``pixel-render run --resume`` spends deciding that a shard already there is this run's: the check before
(the shard's keys read with tarfile, then its sha256) against the check now (the shard this run would write, built
a block at a time and compared with the file as it is read, which is hashed: ``sink.existing_shard``), on every
shard of a shard set the pipeline wrote; and, for scale, writing the shard again (``shards.write_members``, what
keeping it saves locally). Thread CPU time, one pinned core; per round the sum over the shards, then
the median of the rounds. Both checks must keep every shard (asserted).

    .venv/bin/pixel-render run --input wikitext=../shared/data/prose/wikitext-2-raw/wiki.test.raw --format text \\
        --output /tmp/resume-bench --samples_per_shard 250 --workers 1
    PYTHONPATH=$PWD .venv/bin/python tests/benchmarks/bench_resume_check.py /tmp/resume-bench
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine_info, pin_one_core, write_report  # noqa: E402

from pixelkit.pipeline.shards import write_members  # noqa: E402
from pixelkit.pipeline.sink import existing_shard  # noqa: E402
from pixelkit.schemas import ShardManifest  # noqa: E402
from pixelkit.schemas.manifest import file_sha256  # noqa: E402
from pixelkit.schemas.sample import split_member_name  # noqa: E402


def samples_of(path: Path) -> list[dict]:
    """The shard's samples as the sink hands them to the writer: ``{"__key__": key, ext: bytes, ...}``."""
    out: list[dict] = []
    with tarfile.open(path) as tf:
        for m in tf:
            key, ext = split_member_name(m.name)
            if not out or out[-1]["__key__"] != key:
                out.append({"__key__": key})
            out[-1][ext] = tf.extractfile(m).read()
    return out


def keys_check(path: Path, samples: list[dict]) -> bool:
    """The check before: the same keys (and the file's sha256 for the manifest)."""
    with tarfile.open(path, mode="r|") as tf:
        found = sorted({split_member_name(m.name)[0] for m in tf})
    file_sha256(path)
    return found == sorted(s["__key__"] for s in samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("shards", type=Path)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "benchmarks" / "results" / "resume_check.md")
    a = ap.parse_args()
    pinned = pin_one_core()
    m = ShardManifest.from_json((a.shards / "manifest.json").read_bytes())
    shards = [(a.shards / s.name, samples_of(a.shards / s.name)) for s in m.shards]
    tmp = Path(tempfile.mkdtemp(prefix="resume-bench-"))

    def rewrite(p: Path, s: list[dict]) -> bool:
        return write_members(tmp / p.name, s).num_samples == len(s)
    times: dict[str, list[float]] = {"keys + sha256 (before)": [], "the bytes it would write (now)": [],
                                     "writing the shard again (no --resume)": []}
    for _ in range(a.rounds):
        for label, check in zip(times, (keys_check, lambda p, s: existing_shard(str(p), s) is not None, rewrite)):
            t0 = time.thread_time()
            assert all(check(p, s) for p, s in shards)
            times[label].append(time.thread_time() - t0)
    size = sum(os.path.getsize(p) for p, _ in shards)
    before, now, _ = (statistics.median(t) for t in times.values())
    lines = ["# --resume: the check of a shard already there", "",
             f"{len(shards)} shards, {m.num_samples} samples, {size / 1e6:.1f} MB ({a.shards.name}); {pinned}; "
             f"{a.rounds} rounds, median of the per-round sums (thread CPU time)", "",
             "| check | ms per round | ms per MB |", "|---|---|---|"]
    lines += [f"| {label} | {statistics.median(t) * 1e3:.1f} | {statistics.median(t) * 1e3 / (size / 1e6):.2f} |"
              for label, t in times.items()]
    lines += ["", f"now / before: {now / before:.2f}", "",
              "The shard set: `pixel-render run` as in the script's docstring (WikiText-2 test, 250 samples a shard).", "",
              *machine_info(("apache-beam", "webdataset"))]
    write_report(a.out, lines)


if __name__ == "__main__":
    main()
