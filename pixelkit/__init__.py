"""pixelkit: render text to WebDataset shards (``pixelkit.pipeline``), train pixel language models on them
(``pixelkit.trainer``), through one versioned contract (``pixelkit.schemas``).

The repository keeps the three as top-level folders; the wheel installs them under ``pixelkit/`` (pyproject's
``package-dir``), so nothing generic such as ``trainer`` lands in site-packages. In a source checkout (no
``pixelkit/pipeline`` here, ``pipeline/`` beside this folder) the checkout's root is added to this package's path.

Importing ``pixelkit`` registers the model types with transformers' Auto classes (without importing torch), so
``transformers.AutoModel.from_pretrained(dir)`` works after ``import pixelkit``.
"""

from pathlib import Path as _Path

_here = _Path(__file__).resolve().parent
if not (_here / "pipeline").is_dir() and (_here.parent / "pipeline" / "__init__.py").is_file() \
        and (_here.parent / "pyproject.toml").is_file():
    __path__.append(str(_here.parent))  # noqa: F821  (a package's __path__)

from . import trainer as _trainer  # noqa: E402,F401  -- registers the Auto classes (torch-free until transformers is imported)
