"""A suite's results as the papers lay them out: one table per ``tables`` entry (rows = models / input modes,
columns = tasks or languages, an Avg column), mean ± std over seeds, the paper's numbers in a row beside ours and
the scored split's majority baseline; ``results.json`` + ``report.md`` + one PNG per table (bars per column with
the seeds' spread and the paper's number, and the dev learning curves from each run's ``metrics.jsonl``).

Scores are shown x 100 (as the papers print accuracy, F1, MCC, LAS, Pearson; UAS / LAS and SQuAD EM / F1 already are); std is the sample std over seeds
(ddof 1), blank for one seed. A table's Avg is the mean of a row's cells (for several seeds: of the per-seed
means, so its std is the spread of the seeds' averages; when the cells have different numbers of seeds, the mean of
the cells' means, with no std), over the columns the row fills.
"""

from __future__ import annotations

import json
import logging
import platform
from collections import Counter
from pathlib import Path

import numpy as np

from pixelkit.schemas.files import write_atomic

from .spec import MAIN_METRIC
from .suite import Entry, Suite, cell_name, row_name

log = logging.getLogger(__name__)


def metric_key(entry: Entry, result: dict) -> str:
    """The metric shown: the entry's ``metric``, else the task's main one (accuracy, f1, mcc, pearson, las)."""
    return entry.metric or result["main_metric"]


def collect(suite: Suite, results: list[dict]) -> dict:
    """{table: {"rows": [...], "columns": [...], "cells": {row: {col: {...}}}}} with per-seed values."""
    by_entry: dict[str, list[dict]] = {}
    for r in results:
        by_entry.setdefault(r["entry"], []).append(r)
    tables = {t.name: {"title": t.title or t.name, "source": t.source, "average": t.average, "rows": [],
                       "columns": [], "cells": {}, "entries": []} for t in suite.tables}
    for e in suite.entries:
        if e.name not in by_entry:
            continue
        t = tables[e.table]
        runs = sorted(by_entry[e.name], key=lambda r: r["seed"])
        key = metric_key(e, runs[0])
        row = row_name(suite, e)
        t["entries"].append({"entry": e.name, "task": e.task, "protocol": e.protocol, "modality": e.modality,
                             "metric": key, "seeds": [r["seed"] for r in runs], "steps": [r["steps"] for r in runs],
                             "best_step": [r["best_step"] for r in runs], "seconds": [r["seconds"] for r in runs],
                             "train_languages": runs[0]["train_languages"], "eval_split": e.eval_split,
                             "runs": [str(Path(r["model"]).parent) for r in runs], "scale": runs[0].get("scale", 100)})
        for lang in e.languages:
            col = cell_name(e, lang)
            k = runs[0].get("scale", 100)  # shown x 100 (UD and QA scores already are)
            vals = [k * float(r["languages"][lang]["metrics"].get(key, np.nan)) for r in runs]
            base = {m: k * v for m, v in (runs[0]["languages"][lang].get("majority") or {}).items()}
            paper = e.paper.get(lang) if isinstance(e.paper, dict) else e.paper
            n = runs[0]["languages"][lang]["metrics"].get("n")
            _put(t, row, col, {"values": vals, "majority": base.get(key), "paper": paper, "metric": key, "n": n})
        if isinstance(e.paper, dict) and "avg" in e.paper:
            t.setdefault("paper_avg", {})[row] = e.paper["avg"]
    for t in tables.values():
        if t["average"]:
            for row, cells in t["cells"].items():
                if len({len(c["values"]) for c in cells.values()}) == 1:
                    per_seed = np.array([c["values"] for c in cells.values()])
                else:  # cells with different numbers of seeds: the mean of the cells' means (no std)
                    per_seed = np.array([[float(np.mean(c["values"]))] for c in cells.values()])
                if per_seed.size and len(cells) > 1:
                    papers = [c["paper"] for c in cells.values()]
                    paper = t.get("paper_avg", {}).get(row, float(np.mean(papers)) if None not in papers else None)
                    majors = [c["majority"] for c in cells.values()]
                    t["cells"][row]["Avg"] = {"values": per_seed.mean(0).tolist(), "paper": paper, "metric": "avg",
                                              "majority": float(np.mean(majors)) if None not in majors else None}
            if any("Avg" in c for c in t["cells"].values()):
                t["columns"].append("Avg")
    return tables


def _put(t: dict, row: str, col: str, cell: dict) -> None:
    if row not in t["rows"]:
        t["rows"].append(row)
    if col not in t["columns"]:
        t["columns"].append(col)
    t["cells"].setdefault(row, {})[col] = cell


def fmt(values: list[float]) -> str:
    v = np.asarray(values, dtype=float)
    if not len(v) or np.isnan(v).all():
        return "—"
    return f"{v.mean():.1f}" if len(v) == 1 else f"{v.mean():.1f} ± {v.std(ddof=1):.1f}"


def markdown(name: str, t: dict) -> str:
    cols = t["columns"]
    lines = [f"### {t['title']}", ""]
    if t["source"]:
        lines += [f"Mirrors: {t['source']}", ""]
    lines += ["| | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for row in t["rows"]:
        cells = t["cells"][row]
        lines.append(f"| {row} | " + " | ".join(fmt(cells[c]["values"]) if c in cells else "" for c in cols) + " |")
        if any(cells.get(c, {}).get("paper") is not None for c in cols):
            lines.append(f"| {row} (paper) | " + " | ".join(
                f"{cells[c]['paper']:.1f}" if cells.get(c, {}).get("paper") is not None else "" for c in cols) + " |")
    if any(c.get("majority") is not None for cells in t["cells"].values() for c in cells.values()):
        first = {}
        for row in t["rows"]:
            for c, cell in t["cells"][row].items():
                first.setdefault(c, cell.get("majority"))
        lines.append("| majority class | " + " | ".join(
            f"{first[c]:.1f}" if first.get(c) is not None else "" for c in cols) + " |")
    lines += ["", "| entry | task | protocol | input | metric | train | seeds | steps (best) | scored | s |",
              "|---|---|---|---|---|---|---|---|---|---:|"]
    for e in t["entries"]:
        steps = ", ".join(f"{s} ({b})" if b is not None else str(s) for s, b in zip(e["steps"], e["best_step"]))
        lines.append(f"| {e['entry']} | {e['task']} | {e['protocol']} | {e['modality'] or 'default'} | "
                     f"{e['metric']} | {'+'.join(e['train_languages'])} | {', '.join(map(str, e['seeds']))} | "
                     f"{steps} | {e['eval_split']} | {sum(e['seconds']):.0f} |")
    return "\n".join(lines) + "\n"


def curves(run_dir: Path, metric: str) -> tuple[list[int], list[float]]:
    f = run_dir / "metrics.jsonl"
    steps, vals = [], []
    if f.is_file():
        for line in f.read_text().splitlines():
            r = json.loads(line)
            if f"eval_{metric}" in r:
                steps.append(r["step"])
                vals.append(r[f"eval_{metric}"])
    return steps, vals


def curve(e: dict) -> tuple[list[int], list[float]]:
    """A table entry's learning curve (first seed's dev evaluations), x 100 as its table cells are (the run's
    ``scale``: UD and QA scores already are)."""
    s, v = curves(Path(e["runs"][0]), e["metric"]) if e["metric"] != "avg" else ([], [])
    return s, [x * e.get("scale", 100) for x in v]


def plot(name: str, t: dict, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cols, rows = t["columns"], t["rows"]
    fig, (ax, lc) = plt.subplots(1, 2, figsize=(max(8, 1.2 * len(cols) + 6), 4), gridspec_kw={"width_ratios": [2, 1]})
    width = 0.8 / max(1, len(rows))
    x = np.arange(len(cols))
    for i, row in enumerate(rows):
        cells = t["cells"][row]
        mean = [np.mean(cells[c]["values"]) if c in cells else np.nan for c in cols]
        std = [np.std(cells[c]["values"], ddof=1) if c in cells and len(cells[c]["values"]) > 1 else 0
               for c in cols]
        xs = x - 0.4 + width * (i + 0.5)
        ax.bar(xs, mean, width, yerr=std, label=row, capsize=2)
        paper = [cells[c]["paper"] if c in cells and cells[c]["paper"] is not None else np.nan for c in cols]
        if not np.isnan(paper).all():
            ax.scatter(xs, paper, marker="_", s=200, color="black", zorder=3,
                       label="paper" if i == 0 else None)
        base = [cells[c]["majority"] if c in cells and cells[c]["majority"] is not None else np.nan for c in cols]
        if not np.isnan(base).all():
            ax.scatter(xs, base, marker="x", color="gray", zorder=3, label="majority class" if i == 0 else None)
    ax.set_xticks(x, cols, rotation=30, ha="right")
    ax.set_ylabel("score x 100")
    ax.set_title(t["title"])
    ax.legend(fontsize=7)
    for e in t["entries"]:
        s, v = curve(e)
        if s:
            lc.plot(s, v, marker="o", ms=3, label=e["entry"])
    lc.set_xlabel("step")
    lc.set_ylabel("dev score x 100 (selection split)")
    lc.set_title("learning curves (first seed)")
    if lc.lines:
        lc.legend(fontsize=6)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")  # as write_atomic: a killed report leaves the old PNG or the new one
    fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    tmp.replace(path)
    return path


def report(suite: Suite, results: list[dict], out: Path, command: str = "", write: bool = True) -> str:
    """Write results.json, report.md and one PNG per table under ``out`` (unless not ``write``); return the
    Markdown."""
    tables = collect(suite, results)
    doc = [f"# Suite `{suite.name}`: {suite.title}".rstrip(": "), ""]
    if suite.source:
        doc += [f"Source: {suite.source}", ""]
    if command:
        doc += [f"- command: `{command}`"]
    doc += [f"- machine: {platform.machine()}, {platform.processor() or 'cpu'}, {_cores()} cores; "
            f"{platform.platform()}; python {platform.python_version()}", ""]
    for name, t in tables.items():
        if not t["rows"]:
            continue
        doc += [markdown(name, t)]
        doc += [f"![{name}]({plot(name, t, out / f'{name}.png').name})", ""] if write else [""]
    text = "\n".join(doc)
    if not write:
        return text
    write_atomic(out / "results.json", json.dumps({"suite": suite.name, "tables": tables, "runs": results},
                                                  indent=1, default=float).encode() + b"\n")
    write_atomic(out / "report.md", text.encode())
    return text


def _cores() -> int:
    import os
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def majority(spec, records: list[dict]) -> dict | None:
    """The scored split's majority-class baseline (most frequent gold label or tag, predicted everywhere);
    regression: a constant (correlation 0); parsing and QA: none."""
    from .tasks import score
    fam = spec.family
    if fam == "classification":
        gold = [r["gold"] for r in records if r["gold"] is not None]
        if not gold:
            return None
        top = Counter(gold).most_common(1)[0][0]
        return score(spec, [{**r, "pred": top} for r in records])
    if fam == "tagging":
        tags = Counter(t for r in records for t in (r["gold"] or []))
        if not tags:
            return None
        top = tags.most_common(1)[0][0]
        return score(spec, [{**r, "pred": [top] * len(r["gold"] or [])} for r in records])
    if fam == "regression":
        return {MAIN_METRIC[spec.metric]: 0.0}
    return None
