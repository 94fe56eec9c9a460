"""Held-out train rows for choosing the tiny suite's GLUE settings without its dev splits.

    .venv/bin/python tests/benchmarks/suite_select/heldout.py        # -> out/suite-select/{cola,mrpc,rte}-{heldout,rest}.tsv
    pixel-train suite --config tests/benchmarks/suite_select/select.yaml --init out/train/dualgpt/model \
        --tokenizer out/tokenizer.json --out out/suite-select --only rte-last   # one entry at a time

The tiny suite trains on the first 2,000 (CoLA, MRPC) / 1,000 (RTE) rows of each train.tsv; the held-out slice is
a seeded random sample of the rows after those (CoLA's train file is ordered by source paper, so a contiguous
slice would score another distribution), with the header line kept where the file has one. `*-rest.tsv` holds
every other train row (the first ones included), in file order: what a candidate trained on "all train rows" reads
while the held-out rows are scored.
`cola-first64.tsv`: CoLA's first 64 train rows, for the memorisation probes (train and score the same rows).
"""

import random
from pathlib import Path

GLUE = Path("../shared/data/glue")
OUT = Path("out/suite-select")
SETS = (("CoLA", False, 2000, 1000), ("MRPC", True, 2000, 800), ("RTE", True, 1000, 800))  # name, header, used, n

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, header, used, n in SETS:
        lines = (GLUE / name / "train.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
        head, rows = (lines[:1], lines[1:]) if header else ([], lines)
        rest = rows[used:]
        pick = sorted(random.Random(0).sample(range(len(rest)), n))
        (OUT / f"{name.lower()}-heldout.tsv").write_text("".join(head + [rest[i] for i in pick]), encoding="utf-8")
        held = {used + i for i in pick}
        other = [row for i, row in enumerate(rows) if i not in held]
        (OUT / f"{name.lower()}-rest.tsv").write_text("".join(head + other), encoding="utf-8")
        print(f"{name}: {n} held-out rows of train rows {used}..{len(rows) - 1}; {len(other)} rows left to train on")
    cola = (GLUE / "CoLA" / "train.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    (OUT / "cola-first64.tsv").write_text("".join(cola[:64]), encoding="utf-8")  # memorise.py, select.yaml's mem-*
