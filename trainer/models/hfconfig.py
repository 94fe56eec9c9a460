"""The base of our config classes (kept apart from ``base.py``: one concern, and that file's size)."""

from __future__ import annotations

from pathlib import Path

from transformers import PretrainedConfig

from ..spec import check_loading_fields


class PixelkitConfig(PretrainedConfig):
    """Our configs' base: ``from_dict`` (how ``AutoConfig`` / ``AutoModel`` read config.json, before our loading
    code) refuses what transformers' config fails on with a traceback (``spec.check_loading_fields``)."""

    @classmethod
    def from_dict(cls, config_dict, **kwargs):
        src = kwargs.get("name_or_path")  # the directory, when from_pretrained read the file
        check_loading_fields(config_dict, Path(src) / "config.json" if src else f"a {cls.model_type} config")
        return super().from_dict(config_dict, **kwargs)
