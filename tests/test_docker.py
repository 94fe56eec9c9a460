"""The container recipes stay in step with the repository and docker/install.sh (no engine needed: CI parses them).

docker/smoke.sh builds and runs them for real (docker/README.md); this catches the drift that would only show there:
a COPY of a moved file, an extra that pyproject.toml no longer has, a base image for another Beam or torch pin."""

from __future__ import annotations

import fnmatch
import io
import re
import shlex
import tomllib
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[1]
INSTALL = (ROOT / "docker" / "install.sh").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
IMAGES = {"Dockerfile.train": "trainer", "Dockerfile.beam-worker": "pipeline"}  # file -> the extra it must install


def _parse(name: str) -> DockerfileParser:
    return DockerfileParser(fileobj=io.BytesIO((ROOT / "docker" / name).read_bytes()), env_replace=False)


def _steps(name: str) -> list[tuple[str, str]]:
    return [(s["instruction"], s["value"]) for s in _parse(name).structure if s["instruction"] != "COMMENT"]


def _base_default(name: str) -> str:
    """The default of ARG BASE, declared before FROM (the global scope the FROM line reads)."""
    ins, value = _steps(name)[0]
    assert ins == "ARG" and value.startswith("BASE="), f"{name} must start with ARG BASE=<default image>"
    return value.split("=", 1)[1]


def _pin(name: str) -> str:
    for dep in [d for deps in EXTRAS.values() for d in deps]:
        m = re.fullmatch(rf"{re.escape(name)}==([\w.]+)", dep)
        if m:
            return m.group(1)
    raise AssertionError(f"{name} is not pinned in pyproject.toml")


def _install_runs(name: str) -> list[tuple[int, dict[str, str]]]:
    """(step index, environment assignments) of each RUN that calls docker/install.sh."""
    runs = []
    for i, (ins, value) in enumerate(_steps(name)):
        if ins != "RUN" or "docker/install.sh" not in value:
            continue
        for command in re.split(r"&&|;", value):
            words = shlex.split(command)
            if "docker/install.sh" in words:
                env = dict(w.split("=", 1) for w in words[:words.index("bash")] if "=" in w)
                runs.append((i, env))
    return runs


def _ignored(path: str) -> bool:
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip()[:1] not in ("", "#")]
    parts = Path(path).parts
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(parts[0], p) for p in patterns)


@pytest.mark.parametrize("name", IMAGES)
def test_every_copy_source_exists_in_the_build_context(name):
    copies = [shlex.split(v) for ins, v in _steps(name) if ins in ("COPY", "ADD")]
    assert copies, name
    for words in copies:
        assert not any(w.startswith("--from") for w in words), f"{name}: a COPY --from needs a registry: {words}"
        for src in words[:-1]:
            assert (ROOT / src).exists(), f"{name}: COPY source {src} is not in the repository"
            assert not _ignored(src), f"{name}: COPY source {src} is excluded by .dockerignore"


@pytest.mark.parametrize("name", IMAGES)
def test_install_step_uses_install_sh_with_an_extra_it_knows(name):
    runs = _install_runs(name)
    assert len(runs) == 1, f"{name}: expected one RUN of docker/install.sh, found {len(runs)}"
    index, env = runs[0]
    assert set(env) <= {"PIXELKIT_EXTRAS", "PYTHON"}, f"{name}: install.sh does not read {set(env)}"
    assert re.search(r"\$\{PIXELKIT_EXTRAS:-all\}", INSTALL), "install.sh no longer reads PIXELKIT_EXTRAS"
    extras = env.get("PIXELKIT_EXTRAS", "all").split(",")
    assert all(e in EXTRAS for e in extras), f"{name}: PIXELKIT_EXTRAS={extras}; pyproject.toml has {sorted(EXTRAS)}"
    assert IMAGES[name] in extras, f"{name} must install the {IMAGES[name]} extra"
    # What install.sh and the editable install read must be in the image before the RUN.
    copied = {src.rstrip("/") for ins, v in _steps(name)[:index] if ins == "COPY" for src in shlex.split(v)[:-1]}
    folders = set(PYPROJECT["tool"]["setuptools"]["package-dir"].values())  # the editable install needs each one
    needed = {"pyproject.toml", "README.md", "docker/install.sh", "fonts", *folders}
    assert needed <= copied, f"{name}: copied after (or never) the install step: {sorted(needed - copied)}"


@pytest.mark.parametrize("name", IMAGES)
def test_the_venv_install_sh_makes_comes_first_on_path(name):
    steps = _steps(name)
    index, _ = _install_runs(name)[0]
    workdir = [v for ins, v in steps[:index] if ins == "WORKDIR"][-1]
    assert "[ -x .venv/bin/python ]" in INSTALL and '"$PY" -m venv .venv' in INSTALL  # install.sh's venv: ./.venv
    env = {}
    for ins, v in steps[index:]:
        if ins == "ENV":
            env.update(dict(w.split("=", 1) for w in shlex.split(v)))
    assert env.get("PATH", "").startswith(f"{workdir}/.venv/bin:"), f"{name}: PATH={env.get('PATH')}"
    assert env.get("PIXELKIT_FONTS_DIR") == f"{workdir}/fonts"


def test_install_sh_pins_the_torch_the_trainer_extra_asks_for():
    assert f"torch=={_pin('torch')}" in INSTALL


def test_beam_worker_base_is_the_sdk_image_of_the_pinned_beam():
    df = _parse("Dockerfile.beam-worker")
    assert _base_default("Dockerfile.beam-worker") == f"apache/beam_python3.11_sdk:{_pin('apache-beam')}"
    assert _steps("Dockerfile.beam-worker")[1] == ("FROM", "${BASE}")  # overridable: docker/smoke.sh gives a Debian base
    envs = df.envs
    assert envs.get("RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT") == "1"  # else Beam's boot runs a fresh venv without ours
    # The venv must see the SDK image's packages (Beam's GCP/AWS extras) so pip only adds the pipeline's own.
    assert "-m venv --system-site-packages .venv" in _steps("Dockerfile.beam-worker")[_install_runs("Dockerfile.beam-worker")[0][0]][1]


def test_train_base_is_cuda_by_default_and_overridable():
    assert _base_default("Dockerfile.train").startswith("nvidia/cuda:")
    assert _steps("Dockerfile.train")[1] == ("FROM", "${BASE}")
    run = " ".join(v for ins, v in _steps("Dockerfile.train") if ins == "RUN")
    for pkg in ("python3-venv", "python3-dev", "g++"):  # install.sh's venv; DeepSpeed's JIT op builds
        assert pkg in run, f"Dockerfile.train does not install {pkg}"
