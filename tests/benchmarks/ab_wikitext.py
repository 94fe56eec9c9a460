"""``wikitext_to_text`` on one large page, this checkout vs another (``--base DIR``), in alternating fresh processes.

The page is real wikitext: the bundled enwiki excerpt's Anarchism article (CC BY-SA), repeated to each size. Times
are the child's process CPU seconds for one call (median over rounds); both sides must give the same text (its
SHA-256 is compared).

    mkdir -p /tmp/base && git archive HEAD~1 | tar -x -C /tmp/base     # the other checkout
    python tests/benchmarks/ab_wikitext.py --base /tmp/base --mb 2 8 --out tests/benchmarks/results/wikitext.md
    python tests/benchmarks/ab_wikitext.py --base /tmp/base --mb 8 --kind templates --out ...   # appended to
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILD = r"""
import bz2, hashlib, re, sys, time
from pixelkit.pipeline.readers.wikitext import wikitext_to_text
xml = bz2.decompress(open(sys.argv[1], "rb").read()).decode()
page = xml[xml.index("<title>Anarchism</title>"):]
text = page[page.index("<text"):page.index("</text>")]
text = text[text.index(">") + 1:].replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
if sys.argv[3] == "templates":  # worst case for node-by-node pruning: a template in every 10 nodes
    text = "Lorem ipsum dolor sit amet [[link]] {{tpl}} '''b'''. "
big = text * (int(float(sys.argv[2]) * 1e6) // len(text) + 1)
t = time.process_time()
out = wikitext_to_text(big)
print(time.process_time() - t, len(big), hashlib.sha256(out.encode()).hexdigest()[:16])
"""


def _one(tree: Path, mb: float, kind: str) -> tuple[float, int, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    wiki = ROOT / "pipeline" / "sample_data" / "enwiki-excerpt.xml.bz2"
    out = subprocess.run([sys.executable, "-c", CHILD, str(wiki), str(mb), kind], env=env, capture_output=True,
                         text=True, check=True, cwd=tree).stdout.split()
    return float(out[0]), int(out[1]), out[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="the other checkout")
    ap.add_argument("--mb", type=float, nargs="+", default=[2.0, 8.0], help="page sizes, millions of characters")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kind", choices=("article", "templates"), default="article",
                    help="article: real wikitext; templates: a synthetic worst case, one template in ten nodes")
    ap.add_argument("--out", type=Path, help="a Markdown file, appended to")
    a = ap.parse_args()
    load0 = os.getloadavg()[0]
    rows = []
    for mb in a.mb:
        res: dict[str, list[float]] = {"base": [], "this": []}
        digests, chars = set(), 0
        for r in range(a.rounds):
            for name in (("base", "this") if r % 2 == 0 else ("this", "base")):
                sec, chars, digest = _one(a.base.resolve() if name == "base" else ROOT, mb, a.kind)
                res[name].append(sec)
                digests.add(digest)
        b, t = statistics.median(res["base"]), statistics.median(res["this"])
        rows.append(f"| {chars:,} | {b:.2f} | {t:.2f} | {b / t:.2f}x | {'yes' if len(digests) == 1 else 'NO'} |")
        print(rows[-1], flush=True)
    lines = [f"## {a.kind}", "",
             f"- machine: {platform.machine()}, {platform.processor() or 'cpu'}, {os.cpu_count()} cores; "
             f"{platform.platform()}; python {platform.python_version()}",
             f"- command: `python tests/benchmarks/ab_wikitext.py --base {a.base} --mb {' '.join(map(str, a.mb))} "
             f"--rounds {a.rounds} --kind {a.kind}`", f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             f"- load average (1 min) at start {load0:.2f}, at end {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
             "(a shared machine: the ratio within a row is the fair comparison)",
             "- page: " + ("the Anarchism article's wikitext (bundled enwiki excerpt)" if a.kind == "article" else
                           "a synthetic line with a link, a template and bold text") + " repeated; CPU seconds of one "
             "call in a fresh process, median of the rounds, base and this taking turns", "",
             "| wikitext chars | base s | this s | base / this | same text |", "|---:|---:|---:|---:|---|", *rows]
    if a.out:
        with a.out.open("a") as fh:
            fh.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
