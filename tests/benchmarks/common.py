"""Shared by the benchmark scripts: real test strips, machine info, timing, writing the report."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WIKITEXT = ROOT.parent / "shared" / "data" / "prose" / "wikitext-2-raw" / "wiki.test.raw"
BUNDLED = ROOT / "pipeline" / "sample_data" / "wikitext-2-test-excerpt.txt"


def full_strip_texts(n: int, chars: int = 1200) -> tuple[list[str], str]:
    """``n`` chunks of ~``chars`` characters of real WikiText (consecutive non-heading lines), and the source.

    Reads ../shared/data when present (the full test split), else the bundled excerpt (fewer distinct chunks,
    cycled to reach n)."""
    src = WIKITEXT if WIKITEXT.is_file() else BUNDLED
    lines = [" ".join(line.split()) for line in src.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line and not line.startswith("=")]
    out, cur = [], ""
    for line in lines:
        while line:
            take = line[: chars - len(cur)]
            cur = f"{cur} {take}".strip() if cur else take
            line = line[len(take):]
            if len(cur) >= chars - 1:
                out.append(cur)
                cur = ""
    out = [t for t in out if len(t) >= chars // 2]
    return [out[i % len(out)] for i in range(n)], str(src.relative_to(ROOT.parent) if src == WIKITEXT else src.relative_to(ROOT))


def pin_one_core() -> str:
    """Run on one core so rates are per core; returns what was done."""
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        return f"pinned to core {min(os.sched_getaffinity(0))}"
    except (AttributeError, OSError) as e:
        return f"not pinned ({e})"


def clock():
    """The timer of per-call timings: the wall clock, or this thread's CPU time under
    PIXELKIT_BENCH_CLOCK=thread (on a loaded, shared machine a call's wall time is mostly the time it waited for a
    core; its CPU time is not). Peer subprocesses inherit the variable."""
    return time.thread_time if os.environ.get("PIXELKIT_BENCH_CLOCK") == "thread" else time.perf_counter


CLOCK = clock()  # fixed at import (peers.py sets nothing after importing)


def timed(fn, items, warmup: int = 20) -> list[float]:
    for x in items[:warmup]:
        fn(x)
    out, now = [], clock()
    for x in items:
        t0 = now()
        fn(x)
        out.append(now() - t0)
    return out


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def machine_info(packages: tuple[str, ...]) -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    vers = []
    for p in packages:
        try:
            vers.append(f"{p} {metadata.version(p)}")
        except metadata.PackageNotFoundError:
            vers.append(f"{p} (not installed)")
    pango = subprocess.run(["sh", "-c", "dpkg-query -W -f='${Version}' libpango-1.0-0 2>/dev/null"],
                           capture_output=True, text=True).stdout or "unknown"
    return [
        f"- machine: {platform.machine()}, {cpu}, {os.cpu_count()} cores; {platform.platform()}",
        f"- python {platform.python_version()}; libpango {pango}; " + ", ".join(vers),
        f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
    ]


def write_report(out: Path, lines: list[str]) -> None:
    """The Markdown report to ``out`` (its folder made) and to stdout."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
