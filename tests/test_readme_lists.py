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


def _table(readme: str, header: str) -> dict[str, str]:
    """The rows of the table whose header line starts with ``header``."""
    return _rows(_section(readme, header).split("\n\n", 1)[0])


def _readmes() -> list[Path]:
    sys.path.insert(0, str(ROOT / "tests"))
    from readme_commands import readmes
    return readmes(ROOT)


def test_every_top_level_folder_has_a_readme_and_a_layout_row():
    folders = sorted(p.name for p in ROOT.iterdir()
                     if p.is_dir() and not p.name.startswith(".") and p.name not in {"out", "__pycache__"}
                     and _tracked(p.name))
    assert {"pipeline", "trainer", "schemas", "tests"} <= set(folders), folders
    assert [f for f in folders if not (ROOT / f / "README.md").is_file()] == []
    layout = _rows(_section("README.md", "## Layout"))
    assert [f for f in folders if f"`{f}/`" not in layout] == [], "README.md's Layout table misses a folder"


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


def test_the_variant_table_has_every_variant_and_the_sizes_pixel_train_models_prints():
    torch = pytest.importorskip("torch")
    from pixelkit.trainer.models import REGISTRY, DataInfo, get_variant
    from pixelkit.trainer.models.base import count_parameters
    rows = _rows(_section("trainer/README.md", "## Variants"))
    assert [f"`{n}`" for n in REGISTRY] == [k for k in rows if k.startswith("`")], "one row per variant, in order"
    for name in REGISTRY:  # the DataInfo `pixel-train models` counts with
        v = get_variant(name)
        info = DataInfo(mode=v.modes[0], patch_size=8 if v.modes[0] == "binary" else 16, max_patches=529,
                        vocab_size=32000)
        for flavor in v.flavors:
            if flavor != "debug":
                size = f"{count_parameters(v, flavor, info) / 1e6:.1f}M"
                assert f"`{flavor}`" in rows[f"`{name}`"] and size in rows[f"`{name}`"], (name, flavor, size)
    v, info = get_variant("pixel"), DataInfo("gray", 16, 529)
    with torch.device("meta"):
        model = v.model_class(v.config("base", {}, info))
    enc = sum(p.numel() for n, p in model.named_parameters() if n.startswith(("patch_embed", "cls_token", "encoder")))
    dec = sum(p.numel() for p in model.parameters()) - enc
    fidelity = _section("trainer/README.md", "**PIXEL** (").split("**PIXAR, thesis**", 1)[0]
    for text in (rows["`pixel`"], fidelity):
        assert f"{enc / 1e6:.1f}M" in text and f"{dec / 1e6:.1f}M" in text, ("gray encoder / decoder", enc, dec)


def test_every_benchmark_script_is_in_the_benchmarks_table():
    bench = ROOT / "tests" / "benchmarks"
    text = (bench / "README.md").read_text(encoding="utf-8")
    scripts = [p.name for p in sorted(bench.glob("*.py")) if '__name__ == "__main__"' in p.read_text()]
    assert len(scripts) > 20
    assert [s for s in scripts if f"`{s}`" not in text] == [], "tests/benchmarks/README.md's table misses these"


# the repository's folders a README path may start with (anything else is another project's path: xplip/pixel's
# `scripts/...`, Beam's `apache_beam/...`)
_OURS = ("pipeline", "trainer", "schemas", "tests", "docker", "fonts", "render", "pango", "readers", "tasks",
         "models", "heads", "importers", "runs", "suites", "benchmarks", "results", "assets", "parity",
         "sample_data", "suite_select", "finetune", "pixelkit")


def test_the_repository_paths_the_readmes_name_exist():
    files = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*")
             if not any(part.startswith(".") or part in {"out", "__pycache__"} for part in p.relative_to(ROOT).parts)]
    missing = []
    for readme in _readmes():
        for n, line in enumerate(readme.read_text(encoding="utf-8").splitlines(), 1):
            for tok in re.findall(r"`([^`\s]+)`", line):
                path = tok.rstrip(",;:").rstrip("/")
                if ("/" not in path or path.split("/", 1)[0] not in _OURS or re.search(r"[*<>{}$]|NNN|\.\.\.", path)
                        or not re.search(r"\.[a-z]+$|^[a-z_]+(/[a-z_]+)*$", path)):
                    continue
                if not any(f == path or f.endswith("/" + path) for f in files):
                    missing.append(f"{readme.relative_to(ROOT)}:{n}: {tok}")
    assert not missing, "READMEs name files that are not there:\n" + "\n".join(missing)


def test_the_top_readme_names_every_input_format_and_suffix():
    from pixelkit.pipeline.readers import FORMATS
    from pixelkit.pipeline.readers.streams import _CODECS
    para = _text("README.md").split("Formats by suffix", 1)[1].split("\n\n", 1)[0]
    suffixes = [s for f in FORMATS.values() for s in f.suffixes] + list(_CODECS)
    assert [s for s in suffixes if f"`{s}" not in para and f"|{s}" not in para and f"{s}`" not in para] == []
    assert "books" in para


def test_the_top_readme_lists_every_variant_preset_and_suite():
    from pixelkit.pipeline.render import PRESET_NAMES
    from pixelkit.trainer.models import REGISTRY
    top = _text("README.md")
    listed = re.search(r"pixel-train models +# ([a-z0-9, ]+):", top).group(1).split(", ")
    assert listed == list(REGISTRY)
    presets = top.split("Presets: ", 1)[1].split(" Every option", 1)[0]
    assert re.findall(r"`([a-z0-9-]+)`", presets) == list(PRESET_NAMES)
    suites = sorted(p.stem for p in (ROOT / "trainer" / "suites").glob("*.yaml"))
    para = top.split("A paper's tables in one command", 1)[1].split("\n\n", 1)[0]
    assert [s for s in suites if not re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", para)] == []
    assert sorted(k.strip("`") for k in _rows(_section("trainer/README.md", "| suite | mirrors |"))
                  if k.startswith("`")) == suites


def test_the_udhr_counts_are_the_bundled_excerpts():
    lines = (ROOT / "pipeline" / "sample_data" / "udhr-excerpt.jsonl").read_text(encoding="utf-8").splitlines()
    n = len(lines)
    assert f"UDHR in {n} languages" in _text("README.md")
    row = _rows(_text("pipeline/sample_data/README.md"))["`udhr-excerpt.jsonl`"]
    assert f"in {n} languages" in row and len(row.split(" (", 1)[1].split(")", 1)[0].split(", ")) == n, row


def test_the_english_render_speed_the_readmes_quote_is_the_newest_result():
    """README.md and pipeline/README.md quote render.md's newest final run (its first "Final main" section)."""
    newest = _text("tests/benchmarks/results/render.md").split("## Final main", 2)[1]
    first = re.search(r"\*\*First pass: ([\d.]+)x the fastest peer\*\*", newest).group(1)
    second = float(re.search(r"\*\*Second pass: ([\d.]+)x\*\*", newest).group(1))
    top = _text("README.md").split("On English WikiText", 1)[1].split("(`tests/benchmarks/results/render.md`", 1)[0]
    pipe = _text("pipeline/README.md").split("Speed:\n`tests/benchmarks/results/render.md`", 1)[1].split(")", 1)[0]
    for quote in (top, pipe):
        assert f"{first}x the fastest peer" in quote and f"{second:.1f}x" in quote, (first, second, quote)


def test_the_classification_row_names_each_glue_task_scored_by_f1_or_mcc():
    from pixelkit.pipeline.tasks.glue import LAYOUTS
    row = _table("trainer/README.md", "| family (run file) |")["classification (GLUE, XNLI)"]
    metrics = row.split(" | ")[2]
    for name, layout in LAYOUTS.items():
        label = {"accuracy_f1": "F1", "mcc": "MCC"}.get(layout.metric)
        if label:
            named = re.search(rf"{label} \(([^)]+)\)", metrics).group(1).lower().split(", ")
            assert name in named, (name, layout.metric, metrics)


@pytest.mark.parametrize("cli", ["pixel-render", "pixel-shards", "pixel-train"])
def test_every_cli_subcommand_is_in_a_readme(cli):
    usage = subprocess.run([str(Path(sys.executable).parent / cli), "--help"], capture_output=True, text=True,
                           timeout=300).stdout
    subcommands = re.search(r"\{([a-z,-]+)\}", usage).group(1).split(",")
    text = "\n".join(p.read_text(encoding="utf-8") for p in _readmes())
    assert len(subcommands) >= 3
    assert [s for s in subcommands if not re.search(rf"{cli} {s}\b", text)] == []


def test_the_run_defaults_trainer_readme_states_are_the_config_defaults():
    from pixelkit.trainer.config import TrainConfig
    cfg = TrainConfig()
    para = _section("trainer/README.md", "## Run settings").split("Optimizer defaults are PIXEL's:", 1)[1]
    para = " ".join(para.split("`data.expect", 1)[0].split())
    o = cfg.optim

    def sci(x: float) -> str:
        mantissa, exp = f"{x:e}".split("e")
        return f"{float(mantissa):g}e{int(exp)}"

    stated = [f"lr {sci(o.lr)}", f"betas {tuple(o.betas)}", f"weight decay {o.weight_decay:g}",
              f"`warmup_ratio` {o.warmup_ratio:g}", f"`min_lr` {sci(o.min_lr)}",
              "cosine to" if o.schedule == "cosine" else "?",
              f"micro {cfg.micro_batch_size} = global {cfg.global_batch_size}", f"steps ({cfg.max_steps})",
              f"precision ({cfg.engine.precision})"]
    assert [s for s in stated if s not in para] == [], para
    assert cfg.data.train == [] and "--data DIR" in para  # no default data: a bare `pretrain` is refused


def test_the_main_job_paragraph_says_a_cpu_run_builds_no_deepspeed_op():
    """runtime.py turns DeepSpeed's CPU shared-memory op off (test_trainer_engine.py checks no .so is built); the
    top README said the first run compiles it."""
    from pixelkit.trainer import runtime
    assert '__compatible_ops__["deepspeed_shm_comm"] = False' in Path(runtime.__file__).read_text()
    main_job = _text("README.md").split("The main job", 1)[1].split("\n\n", 1)[0]
    assert "No DeepSpeed op is compiled on CPU" in main_job and "compiles a small CPU op" not in main_job
    assert "builds none" in _section("trainer/README.md", "## Engine and outputs")


def test_every_environment_variable_the_code_reads_is_in_a_readme():
    code = "\n".join(p.read_text(encoding="utf-8") for d in ("pipeline", "trainer", "schemas", "pixelkit")
                     for p in (ROOT / d).rglob("*.py"))
    names = sorted(set(re.findall(r"\"(PIXELKIT_[A-Z_]+)\"", code)))
    text = "\n".join(p.read_text(encoding="utf-8") for p in _readmes())
    assert len(names) >= 4 and [n for n in names if f"`{n}" not in text] == []


def test_trainer_readme_tables_are_the_registries():
    """Guards (these matched when written): import formats, heads and families, suite protocols, sequence pooling."""
    from pixelkit.trainer.heads import HEADS
    from pixelkit.trainer.spec import FAMILIES, IMPORT_FORMATS
    from pixelkit.trainer.suite import PROTOCOLS
    formats = _table("trainer/README.md", "| format | source (reference code) |")
    assert sorted(k.strip("`") for k in formats if k.startswith("`")) == sorted(IMPORT_FORMATS)
    families = _table("trainer/README.md", "| family (run file) |")
    assert sorted(k.split(" (")[0] for k in families if not k.startswith("family")) == sorted(FAMILIES)
    for family, (head, _) in FAMILIES.items():
        row = next(v for k, v in families.items() if k.startswith(family))
        assert f"`{head}`" in row.split(" | ")[1], (family, head)
    assert {h for h, _ in FAMILIES.values()} == set(HEADS)
    protocols = _table("trainer/README.md", "| protocol | trains on |")
    assert sorted(k.split(" ")[0].strip("`") for k in protocols if k.startswith("`")) == sorted(PROTOCOLS)
    pooling = re.findall(r"`([a-z]+)`", families[next(k for k in families if k.startswith("classification"))]
                         .split(" | ")[1].split("; ")[0])
    sequence = (ROOT / "trainer" / "heads" / "sequence.py").read_text()
    modes = re.search(r"^MODES = \(([^)]*)\)", sequence, re.M).group(1)
    assert sorted(pooling[1:]) == sorted(m for m in re.findall(r'"([a-z]+)"', modes) if m != "auto"), pooling


def test_the_task_job_refusals_name_every_run_only_flag():
    from pixelkit.pipeline.tasks.settings import RUN_ONLY
    para = _text("pipeline/README.md").split("which the task job does not read --", 1)[1].split("-- are refused", 1)[0]
    assert sorted(re.findall(r"`--([a-z_]+)`", para)) == sorted(RUN_ONLY)


def test_pipeline_readme_names_every_module_that_imports_beam_at_load():
    para = _text("pipeline/README.md").split("Beam only at the edge:", 1)[1].split("; `render/`", 1)[0]
    named = set(re.findall(r"`([a-z_/]+\.py)`", para))
    top = sorted(p.relative_to(ROOT / "pipeline").as_posix() for p in (ROOT / "pipeline").rglob("*.py")
                 if re.search(r"^(import|from) apache_beam", p.read_text(encoding="utf-8"), re.M))
    assert len(top) > 5 and [m for m in top if m not in named] == [], named


def test_the_benchmarks_readme_claims_for_all_scripts_only_what_all_do():
    """Its opening said each script pins one core and writes a results file; of 30, 13 do not call pin_one_core
    and 9 take no --out."""
    bench = ROOT / "tests" / "benchmarks"
    intro = (bench / "README.md").read_text(encoding="utf-8").split("\n| script |", 1)[0]
    scripts = [p.read_text() for p in sorted(bench.glob("*.py")) if '__name__ == "__main__"' in p.read_text()]
    if not all("pin_one_core" in s for s in scripts):
        assert "Each script pins" not in intro and "pin_one_core" in intro
    if not all('"--out"' in s for s in scripts):
        assert "those without `--out`" in intro
