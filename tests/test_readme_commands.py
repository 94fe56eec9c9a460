"""Every shell command a README shows runs as written, or a table here says why it is not run and what runs instead.

Each README's commands run in order in one bash session (so `S=...`, `cmd &` and `kill %1` work as they would
for a reader), from the root of a fresh copy of the checkout (a temp directory of symlinks to the repository's
top-level entries, so `out/`, `x.png`, `tok.json` land in the copy; `../shared` is linked when it exists), with
`.venv/bin` first on PATH (the trainer README's bare `pixel-train` lines assume an activated venv) and the
checkout on PYTHONPATH (what the editable install gives CI).

Three kinds of command:
- run in CI: everything not listed below. A new README command is run here by default.
- SLOW: Beam jobs and training runs (20 s to minutes each on 2 cores). CI runs the code path in the test named
  with each; `PIXELKIT_README=all .venv/bin/python -m pytest -q tests/test_readme_commands.py` runs them too, as
  written (tests/benchmarks/results/readme_commands.md records what ran here, how long, and what has not yet).
- NOT_RUN: never run here (installing into the venv, clouds, clusters, GPUs, several machines), with the reason
  and the test that covers what can be covered.
A table entry that no README shows any more fails the test, so the tables stay the READMEs' own.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from readme_commands import ROOT, all_commands

FULL = os.environ.get("PIXELKIT_README") == "all"
MAIN_JOB = ".venv/bin/pixel-render && .venv/bin/pixel-train demo"  # README.md's first command without the install
AFTER_MAIN_JOB = {"README.md", "trainer/README.md"}  # READMEs whose commands read what the main job wrote

NOT_RUN = {
    "pixel-train suite --config trainer/suites/pixel-paper.yaml --init models/pixel-base --only glue-cola "
    "ud-en_ewt-pos": "needs the released PIXEL base checkpoint imported to models/pixel-base and paper-scale "
                     "finetuning (GPU); the suite machinery: test_suite.py, the import: test_importers.py",
    "bash docker/install.sh && .venv/bin/pixel-render && .venv/bin/pixel-train demo":
        "installs into the venv (CI runs docker/install.sh itself, .ci/run); the main job after it runs first in "
        "PIXELKIT_README=all mode (MAIN_JOB); CI: test_pipeline_e2e.py and "
        "test_trainer_engine.py::test_demo_trains_pixel_and_pixar_on_rendered_shards",
    "bash docker/install.sh && .venv/bin/python -m pytest -q": "this is CI itself (.ci/run runs exactly this line)",
    ".venv/bin/pixel-render run --input c4=gs://bucket/c4/*.jsonl.zst --output gs://bucket/shards "
    "--runner DataflowRunner --project P --region R --temp_location gs://bucket/tmp --sdk_container_image IMAGE":
        "needs a Google Cloud project; the remote --output refusal: test_settings.py",
    "cat > render_on_slurm.py <<PY": "the script for a SLURM login node (next line); no SLURM/PBS here",
    ".venv/bin/python render_on_slurm.py": "needs a SLURM cluster and dask-jobqueue; the Dask path itself: "
                                           "test_dask_runner.py",
}
S3 = "the object-storage blocks of pipeline/README.md and trainer/README.md share one local S3 server; " \
     "tests/test_s3.py::test_the_readme_commands_run_as_written runs both blocks as written, in one bash session"
NOT_RUN.update(dict.fromkeys([
    ".venv/bin/moto_server -H 127.0.0.1 -p 5055 > /dev/null 2>&1 &",
    "timeout 60 bash -c until (: > /dev/tcp/127.0.0.1/5055) 2> /dev/null; do sleep 0.2; done",
    "export AWS_ENDPOINT_URL_S3=http://127.0.0.1:5055 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
    "AWS_DEFAULT_REGION=us-east-1",
    ".venv/bin/python -c import fsspec; fs = fsspec.filesystem('s3'); fs.mkdir('pixelkit-demo');      "
    "fs.put('pipeline/sample_data/wikitext-2-test-excerpt.txt', 'pixelkit-demo/corpus/')",
    ".venv/bin/pixel-render run --input wikitext=s3://pixelkit-demo/corpus/*.txt --output s3://pixelkit-demo/shards "
    "--min_patches 4 --samples_per_shard 64",
    ".venv/bin/pixel-render run --input wikitext=s3://pixelkit-demo/corpus/*.txt --output s3://pixelkit-demo/shards "
    "--min_patches 4 --samples_per_shard 64 --resume",
    ".venv/bin/pixel-shards verify s3://pixelkit-demo/shards",
    "kill %1",
    ".venv/bin/pixel-train pretrain --model pixel --flavor debug --data s3://pixelkit-demo/shards --steps 2 "
    "--set micro_batch_size=4 --set global_batch_size=4 --out out/train/s3-demo",
], S3))
DOCKER = "builds / runs a container image: no container engine in CI; docker/smoke.sh builds both Dockerfiles with " \
         "podman and runs them (docker/README.md records the run); CI: test_docker.py parses both Dockerfiles"
NOT_RUN_PREFIXES = {
    "docker build": DOCKER,
    "docker run": DOCKER,
    ".venv/bin/pixel-render run ... --runner": "a fragment (`...`: a run line's inputs) for Dataflow / Flink with the "
                                             "worker image; docker/smoke.sh runs that image as a Beam worker pool",
    # multi-node lines of trainer/README.md
    "deepspeed --hostfile": "several machines (ssh + a hostfile); the launcher on one machine: "
                            "test_trainer_processes.py::test_two_processes_under_the_deepspeed_launcher_share_the_cores",
    "torchrun --nnodes": "several machines; torchrun on one: test_trainer_processes.py::test_two_processes_under_torchrun "
                         "and ::test_two_processes_killed_run_resumes_where_it_stood",
}

DASK = "the Dask block (a local scheduler + 2 workers on port 8786); CI: test_dask_runner.py (the same job on a " \
       "scheduler and 2 workers on 127.0.0.1, byte-identical to the local runner)"
SLOW = {
    "pixel-train suite --config tiny --init out/train/dualgpt/model --tokenizer out/tokenizer.json":
        "the tiny suite (20 entries, 28 finetuning runs, ~4 CPU-hours; tests/benchmarks/results/suite-tiny.md "
        "records it); CI: "
        "test_suite.py::test_suite_runs_both_protocols_resumes_after_a_kill_and_reports",
    "pixel-train pretrain --config trainer/runs/dualgpt.yaml":
        "training (the DualGPT the MRPC and suite lines below start from); CI: test_models.py (every variant learns)",
    "pixel-render task --task glue-mrpc --input train=../shared/data/glue/MRPC/train.tsv "
    "--input validation=../shared/data/glue/MRPC/dev.tsv --output out/tasks/glue-mrpc --max_patches 196 --limit 400 "
    "--tokenizer out/tokenizer.json":
        "reads GLUE from ../shared/data (research use, not in the repository); CI: test_modality.py renders real "
        "CoLA rows with token ids",
    "pixel-train finetune --data out/tasks/glue-mrpc --init out/train/dualgpt/model --set task.modality=pair":
        "finetuning on MRPC task shards with token ids and a pretrained DualGPT; CI: test_modality.py (all three "
        "input modes on real CoLA shards) and test_finetune_cli.py",
    ".venv/bin/pixel-train pretrain --model pixel --flavor debug --data out/pixel-gray --steps 40":
        "training; CI: test_trainer_engine.py::test_pretrain_pixel_end_to_end",
    ".venv/bin/pixel-train pretrain --config trainer/runs/dualgpt.yaml --set optim.lr=3e-4 --set engine.zero_stage=2":
        "training; CI: test_models.py (every variant learns), test_trainer_engine.py::test_zero_stages_and_precisions",
    ".venv/bin/torchrun --standalone --nproc_per_node 2 -m pixelkit.trainer.cli pretrain "
    "--config trainer/runs/pixel.yaml --set micro_batch_size=4 --out out/train/pixel-2ranks":
        "2-process training; CI: test_trainer_processes.py::test_two_processes_under_torchrun",
    ".venv/bin/pixel-render tokenizer train --input pipeline/sample_data/*.txt --vocab-size 16000 --out tok.json":
        "needed by the run below only",
    ".venv/bin/pixel-render run --input enwiki=pipeline/sample_data/enwiki-excerpt.xml.bz2 "
    "--input books=pipeline/sample_data/pride-and-prejudice-excerpt.txt --output out/mix --preset pixel "
    "--tokenizer tok.json --min_patches 22 --workers 2":
        "a Beam job; CI: test_pipeline_e2e.py (the same job on the bundled corpus)",
    "PYTHONPATH=$PWD .venv/bin/dask scheduler --host 127.0.0.1 --port 8786 --no-dashboard &": DASK,
    "PYTHONPATH=$PWD .venv/bin/dask worker tcp://127.0.0.1:8786 --nworkers 2 --nthreads 1 --no-dashboard &": DASK,
    ".venv/bin/pixel-render run --input wikitext=pipeline/sample_data/wikitext-2-test-excerpt.txt "
    "--output out/dask-demo --runner dask --dask_client_address tcp://127.0.0.1:8786": DASK,
    "kill %2 %1": DASK,
    ".venv/bin/pixel-shards verify out/mix": "reads out/mix from the run above; CI: test_pipeline_e2e.py "
                                            "(test_shards_verify_and_hold_every_written_document)",
    ".venv/bin/pixel-shards inspect out/mix": "reads out/mix from the run above",
    ".venv/bin/pixel-shards stats out/mix": "reads out/mix from the run above",
    ".venv/bin/pixel-render task --task ud-en_ewt-pos --input train=pipeline/sample_data/en_ewt-ud-test-excerpt.conllu "
    "--output out/tasks/ud-pos --max_patches 256": "a Beam job; CI: test_tasks_e2e.py",
    ".venv/bin/pixel-render task --task xquad-en --input validation=pipeline/sample_data/xquad-en-excerpt.json "
    "--output out/tasks/xquad --max_patches 400 --stride 160":
        "a Beam job; CI: test_tasks_e2e.py::test_qa_windows_map_answers_back_through_the_offset_mapping",
    ".venv/bin/pixel-render task --task glue-mrpc --input train=../shared/data/glue/MRPC/train.tsv "
    "--input validation=../shared/data/glue/MRPC/dev.tsv --output out/tasks/mrpc --max_patches 196 --limit 100":
        "reads GLUE from ../shared/data (research use, not in the repository); CI: "
        "test_tasks_e2e.py::test_glue_pair_classification on committed rows",
    ".venv/bin/pixel-render task --task ud-en_ewt-pos --max_patches 256 --output out/tasks/ewt-excerpt-pos "
    "--input train=pipeline/sample_data/en_ewt-ud-test-excerpt.conllu "
    "--input validation=pipeline/sample_data/en_ewt-ud-test-excerpt.conllu": "a Beam job; CI: test_tasks_e2e.py",
    ".venv/bin/pixel-train finetune --task pos --init out/train/pixel/model --data out/tasks/ewt-excerpt-pos "
    "--steps 20 --eval-every 10": "training; CI: test_finetune_cli.py::test_finetune_evaluate_resume_through_the_cli",
    ".venv/bin/pixel-train evaluate --model out/finetune/ewt-excerpt-pos/best --data out/tasks/ewt-excerpt-pos":
        "reads the finetuned model above; CI: test_finetune_cli.py::test_finetune_evaluate_resume_through_the_cli",
    "pixel-train pretrain --model pixel --flavor debug --data out/pixel-gray --steps 40":
        "training; CI: test_trainer_engine.py::test_pretrain_pixel_end_to_end",
    "pixel-train pretrain --config trainer/runs/pixar.yaml --set optim.lr=3e-4 --set engine.zero_stage=2 "
    "--out out/train/pixar-zero2":
        "training; CI: test_trainer_engine.py::test_demo_trains_pixel_and_pixar_on_rendered_shards (PIXAR's run "
        "file)",
    "torchrun --standalone --nproc_per_node 2 -m pixelkit.trainer.cli pretrain --config trainer/runs/pixel.yaml "
    "--set micro_batch_size=4 --set global_batch_size=16 --out out/train/pixel-torchrun":
        "2-process training; CI: test_trainer_processes.py::test_two_processes_under_torchrun",
    "deepspeed --num_gpus 2 --module pixelkit.trainer.cli pretrain --config trainer/runs/pixel.yaml "
    "--set micro_batch_size=4 --out out/train/pixel-deepspeed":
        "2-process training; CI: test_trainer_processes.py::test_two_processes_under_the_deepspeed_launcher_share_the_cores",
    "pixel-train demo": "training; CI: test_trainer_engine.py::test_demo_trains_pixel_and_pixar_on_rendered_shards",
    "pixel-train pretrain --config trainer/runs/textgpt.yaml":
        "training (the TextGPT the token-input parsing lines below start from); CI: test_models.py (every variant "
        "learns)",
    "pixel-render task --task ud-en_ewt-parse --max_patches 256 --output out/tasks/ewt-excerpt-parse-text "
    "--input train=pipeline/sample_data/en_ewt-ud-test-excerpt.conllu "
    "--input validation=pipeline/sample_data/en_ewt-ud-test-excerpt.conllu --tokenizer out/tokenizer.json "
    "--max_tokens 128": "a Beam job with the main job's tokenizer; CI: test_finetune_text.py (token spans, the "
                        "--max_tokens cut)",
    "pixel-train finetune --init out/train/textgpt/model --data out/tasks/ewt-excerpt-parse-text --steps 20 "
    "--eval-every 10": "training; CI: test_finetune_text.py::test_textgpt_finetune_evaluate_through_the_cli",
    "pixel-train evaluate --model out/finetune/ewt-excerpt-parse-text/best --data out/tasks/ewt-excerpt-parse-text":
        "reads the finetuned model above; CI: test_finetune_text.py::test_textgpt_finetune_evaluate_through_the_cli",
    "udeval -v pipeline/sample_data/en_ewt-ud-test-excerpt.conllu "
    "out/finetune/ewt-excerpt-parse-text/best/eval/predictions-validation.conllu":
        "scores the predictions above; CI: test_udfile.py (UD's scorer on our CoNLL-U equals conll18_uas / las)",
    "S=../shared/data/ud/UD_English-EWT": "the full UD English-EWT (12,543 training sentences) from ../shared/data",
    "pixel-render task --task ud-en_ewt-pos --max_patches 256 --output out/tasks/ud-en_ewt-pos "
    "--input train=$S/en_ewt-ud-train.conllu --input validation=$S/en_ewt-ud-dev.conllu "
    "--input test=$S/en_ewt-ud-test.conllu": "the full UD English-EWT; CI: test_tasks_e2e.py on the bundled excerpt",
    "pixel-train finetune --task pos --init out/train/pixel/model --data out/tasks/ud-en_ewt-pos --steps 120":
        "training on the full UD English-EWT; CI: test_finetune_cli.py",
    "pixel-train evaluate --model out/finetune/ud-en_ewt-pos/best --data out/tasks/ud-en_ewt-pos --split test":
        "reads the finetuned model above; CI: test_finetune_cli.py",
}

# what marks a SLOW command as needing ../shared/data (absent outside the dev machines): the data itself, or the
# outputs of the commands that read it (the full UD English-EWT and MRPC task shards); the suite reads it directly
SHARED_OUTPUTS = ("../shared", "$S/", "out/tasks/ud-en_ewt-pos", "out/tasks/glue-mrpc", "pixel-train suite")

MULTI_NODE = ("deepspeed --hostfile", "torchrun --nnodes")


def _not_run(key: str) -> str | None:
    return NOT_RUN.get(key) or next((r for p, r in NOT_RUN_PREFIXES.items() if key.startswith(p)), None)


def _workspace(tmp: Path) -> Path:
    """A fresh copy of the checkout: symlinks to its top-level entries, no `out/`; `../shared` when it exists."""
    ws = tmp / "checkout"
    ws.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in {"out", ".git"} and not entry.name.endswith(".png"):
            (ws / entry.name).symlink_to(entry)
    if (ROOT.parent / "shared").exists():
        (tmp / "shared").symlink_to(ROOT.parent / "shared")
    return ws


def _script(readme: str) -> tuple[str, list[str]]:
    """A bash script running the README's commands in order; each one checked, its time printed."""
    lines = ["trap 'kill $(jobs -p) 2>/dev/null' EXIT",  # no background job outlives a failed script
             'check() { rc=$?; echo "README-CMD $1 rc=$rc t=$EPOCHREALTIME" >&2; [ $rc = 0 ] || exit 97; }',
             'echo "README-CMD start rc=0 t=$EPOCHREALTIME" >&2']
    ran: list[str] = []
    if readme in AFTER_MAIN_JOB and FULL:
        lines += [MAIN_JOB, "check 0"]
    for cmd in (c for c in all_commands() if c.readme == readme):
        if _not_run(cmd.key) or (cmd.key in SLOW and not FULL):
            continue
        if cmd.key in SLOW and any(s in cmd.text for s in SHARED_OUTPUTS) and not (ROOT.parent / "shared").exists():
            continue  # reads ../shared/data (research-use sets) or what a command reading it wrote
        lines += [cmd.text, f"check {cmd.line}"]
        ran.append(f"{readme}:{cmd.line}")
    return "\n".join(lines) + "\n", ran


def test_every_table_entry_is_a_readme_command():
    keys = {c.key for c in all_commands()}
    stale = [k for k in [*NOT_RUN, *SLOW] if k not in keys]
    stale += [p for p in NOT_RUN_PREFIXES if not any(k.startswith(p) for k in keys)]
    assert not stale, f"no README shows these any more; drop them from the tables: {stale}"
    assert {c.readme for c in all_commands()} >= {"README.md", "pipeline/README.md", "trainer/README.md"}


def test_the_command_reader_keeps_continuations_heredocs_and_background_jobs():
    cmds = {c.key: c for c in all_commands()}
    slurm = cmds["cat > render_on_slurm.py <<PY"]
    assert slurm.text.rstrip().endswith("PY") and "SLURMCluster" in slurm.text, slurm.text
    assert any(k.endswith("--no-dashboard &") for k in cmds)
    multi = [c for c in all_commands() if "\\\n" in c.text]
    assert multi and all(c.key.count("\n") == 0 for c in multi)


def test_the_multi_node_lines_fit_their_world_size():
    """The multi-node lines are not run, but their settings hold together: the run file + --set load, and the global
    batch divides over nodes x processes per node (pixel-paper's micro 32 would not over 16 ranks)."""
    from pixelkit.trainer.config import deepspeed_config, load_config, parse_set
    cmds = all_commands()
    slots = sum(int(n) for c in cmds if c.key.endswith("> hostfile") for n in re.findall(r"slots=(\d+)", c.text))
    lines = [c for c in cmds if c.key.startswith(MULTI_NODE)]
    assert slots and len(lines) == len(MULTI_NODE), (slots, lines)
    for c in lines:
        argv = shlex.split(c.key)
        if argv[0] == "torchrun":
            world = int(argv[argv.index("--nnodes") + 1]) * int(argv[argv.index("--nproc_per_node") + 1])
        else:
            world = slots
        rest = argv[argv.index("pretrain") + 1:]
        flags = {"data": {"train": [rest[rest.index("--data") + 1]]}, "output_dir": rest[rest.index("--out") + 1]}
        sets = [rest[i + 1] for i, a in enumerate(rest) if a == "--set"]
        cfg = load_config(str(ROOT / rest[rest.index("--config") + 1]), flags, parse_set(sets))
        assert deepspeed_config(cfg, world)["train_batch_size"] == cfg.global_batch_size, c.key


@pytest.mark.slow
@pytest.mark.parametrize("readme", sorted({c.readme for c in all_commands()}))
def test_readme_commands_run_as_written(readme, tmp_path):
    script, ran = _script(readme)
    if not ran:
        pytest.skip(f"{readme} shows no command that runs here" + ("" if FULL else " in CI (PIXELKIT_README=all)"))
    ws = _workspace(tmp_path)
    env = {**os.environ, "PATH": f"{ws / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"  # files, so a long run can be followed (tail -f)
    with out.open("w") as fo, err.open("w") as fe:
        rc = subprocess.run(["bash", "-c", script], cwd=ws, env=env, stdout=fo, stderr=fe,
                            timeout=4 * 3600 if FULL else 900).returncode  # all: the trainer README is > 1 h here
    p = subprocess.CompletedProcess([], rc, out.read_text(errors="replace"), err.read_text(errors="replace"))
    marks = [line.split() for line in p.stderr.splitlines() if line.startswith("README-CMD ")]
    times = [f"{readme}:{b[1]} {b[2]} {float(b[3][2:]) - float(a[3][2:]):.1f}s" for a, b in zip(marks, marks[1:])]
    print(f"{readme}: {len(ran)} commands in {time.perf_counter() - t0:.0f}s\n" + "\n".join(times))
    assert p.returncode == 0, (f"{readme}: a command failed as written ({times[-1] if times else 'at start'}):\n"
                               f"{p.stdout[-3000:]}\n{p.stderr[-6000:]}")
    assert len(times) == len(ran) + (readme in AFTER_MAIN_JOB and FULL)
