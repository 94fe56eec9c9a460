"""One import namespace: the wheel installs only ``pixelkit`` (pipeline, trainer, schemas under it), so it
co-installs with Coqui's ``trainer`` (PyPI ``trainer``, the TTS trainer) in one venv and both import.

Coqui's wheel and the two it needs that pixelkit's venv lacks are fetched by ``docker/install.sh`` into
``.venv/wheels`` (nothing is downloaded here); the fresh venv sees the project venv's other packages (numpy, torch,
...) through a ``.pth`` line, but not its editable pixelkit (a ``.pth`` directory's own ``.pth`` files are not read).
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WHEELS = Path(sys.prefix) / "wheels"
COQUI = ("trainer-0.0.36-py3-none-any.whl", "coqpit-0.0.17-py3-none-any.whl")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_subpackage_is_mapped_into_pixelkit():
    setup = _project()["tool"]["setuptools"]
    listed = set(setup["packages"])
    found = {"pixelkit"}
    for top in ("pipeline", "trainer", "schemas"):
        assert setup["package-dir"][f"pixelkit.{top}"] == top
        for init in (ROOT / top).rglob("__init__.py"):
            found.add("pixelkit." + ".".join(init.parent.relative_to(ROOT).parts))
    assert found == listed, f"pyproject [tool.setuptools] packages: add {sorted(found - listed)}, " \
                            f"drop {sorted(listed - found)}"


def test_console_scripts_point_into_pixelkit():
    scripts = _project()["project"]["scripts"]
    assert scripts and all(target.startswith("pixelkit.") for target in scripts.values()), scripts


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-w", str(out), str(ROOT)], check=True, cwd=out)
    (whl,) = out.glob("pixelkit-*.whl")
    return whl


def test_wheel_installs_nothing_but_pixelkit(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"pixelkit", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}, tops
    for must in ("pixelkit/__init__.py", "pixelkit/pipeline/cli.py", "pixelkit/trainer/cli.py",
                 "pixelkit/schemas/sample.py", "pixelkit/trainer/runs/pixel.yaml", "pixelkit/trainer/suites/tiny.yaml",
                 "pixelkit/pipeline/sample_data/wikitext-2-test-excerpt.txt"):
        assert must in names, must


def test_wheel_beside_coquis_trainer_in_a_fresh_venv(wheel, tmp_path):
    missing = [w for w in COQUI if not (WHEELS / w).is_file()]
    if missing:
        pytest.skip(f"{missing} not in {WHEELS} (docker/install.sh fetches them)")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index",
                    "--disable-pip-version-check", str(wheel), *(str(WHEELS / w) for w in COQUI),
                    *map(str, WHEELS.glob("soundfile-*.whl"))], check=True)
    fresh = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    (Path(fresh) / "zz_project_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    code = (
        "import trainer, pixelkit, pixelkit.trainer.spec, pixelkit.pipeline.cli, pixelkit.schemas, transformers\n"
        "from trainer import Trainer, TrainerArgs\n"  # Coqui's API
        "print(trainer.__file__); print(pixelkit.__file__); print(pixelkit.pipeline.cli.__file__)\n"
        "print('pixelkit-pixel' in transformers.models.auto.configuration_auto.CONFIG_MAPPING)\n")
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    coqui, ours, cli, registered = out.stdout.split()
    assert coqui.startswith(fresh) and Path(coqui).parent.name == "trainer"
    assert ours == f"{fresh}/pixelkit/__init__.py" and cli == f"{fresh}/pixelkit/pipeline/cli.py"
    assert registered == "True"  # `import pixelkit` registered the Auto classes
