"""What the READMEs list as complete is the registry it comes from, and the files they name are there.

Each list here went stale once (a task prefix, a renamed module, a parameter count, a new benchmark script, a
folder without a README); these tests read the README text and the registry side by side, so the next change to
either fails here instead of leaving the README wrong. Torch only for the parameter counts (meta device)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _text(readme: str) -> str:
    return (ROOT / readme).read_text(encoding="utf-8")


def _section(readme: str, heading: str) -> str:
    return _text(readme).split(heading, 1)[1].split("\n## ", 1)[0]


def _rows(section: str) -> dict[str, str]:
    """A Markdown table's rows by their first cell (backticks kept)."""
    rows = {}
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[0]] = line
    return rows


def _readmes() -> list[Path]:
    sys.path.insert(0, str(ROOT / "tests"))
    from readme_commands import readmes
    return readmes(ROOT)


def _tracked(name: str) -> bool:
    out = subprocess.run(["git", "ls-files", "--", name], cwd=ROOT, capture_output=True, text=True)
    return out.returncode != 0 or bool(out.stdout.strip())  # outside git: every folder counts


def test_the_task_table_names_every_task_prefix():
    from pixelkit.pipeline.tasks import EXAMPLES, PREFIXES
    table = _section("pipeline/README.md", "| task names | reader |")
    names = " ".join(re.findall(r"`([^`]+)`", "\n".join(line.split(" | ")[0] for line in table.splitlines()
                                                          if line.startswith("| "))))
    missing = [p for p in PREFIXES if p not in names]
    assert not missing, f"pipeline/README.md's task table has no row for the task prefixes {missing}"
    glue = re.search(r"glue-\{([a-z0-9,]+)\}", names).group(1).split(",")
    assert sorted(f"glue-{t}" for t in glue) == sorted(e for e in EXAMPLES if e.startswith("glue-"))


# the repository's folders a README path may start with (anything else is another project's path: xplip/pixel's
# `scripts/...`, Beam's `apache_beam/...`)
_OURS = ("pipeline", "trainer", "schemas", "tests", "docker", "fonts", "render", "pango", "readers", "tasks",
         "models", "heads", "importers", "runs", "suites", "benchmarks", "results", "assets", "parity",
         "sample_data", "suite_select", "finetune", "pixelkit")