"""pixelkit's training side (the streaming DeepSpeed trainer). Reads shards through `schemas`; never imports Beam."""

from .hf import register as _register_with_transformers

_register_with_transformers()  # AutoConfig / AutoModel / AutoModelFor... know every pixelkit model_type
