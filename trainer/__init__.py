"""pixelkit's training side (the streaming DeepSpeed trainer). Reads shards through `schemas`; never imports Beam.

Importing it registers every pixelkit ``model_type`` with transformers' Auto classes (``hf.register``) -- at once
when transformers is already imported, otherwise right after it is, so that ``import pixelkit.trainer`` alone stays
torch-free (``pixel-train --help`` and reading a run file import no torch) and ``AutoModel.from_pretrained`` still
knows our models whichever of the two imports comes first.
"""

import importlib
import importlib.abc
import importlib.machinery
import sys


def _register() -> None:
    """Import the models, whose package registers them (``models/__init__.py``); when transformers is being
    imported by the models package itself, that package registers once it is complete."""
    if __name__ + ".models" not in sys.modules:
        importlib.import_module(__name__ + ".models")


class _AfterTransformers(importlib.abc.MetaPathFinder):
    """Runs ``_register`` once the top-level ``transformers`` module has finished executing."""

    def find_spec(self, name, path=None, target=None):
        if name != "transformers":
            return None
        sys.meta_path.remove(self)  # once; the real finders below do the finding
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _register()

        spec.loader.exec_module = exec_module
        return spec


if "transformers" in sys.modules:
    _register()
elif not any(isinstance(f, _AfterTransformers) for f in sys.meta_path):
    sys.meta_path.insert(0, _AfterTransformers())
