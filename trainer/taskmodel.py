"""A pretrained variant's encoder under a task head: ``TaskModel`` (a ``PixelkitModel``, saved and loaded
with safetensors like every variant, strictly) and the ``Variant``-shaped entry the engine trains it through.

``TaskConfig`` holds the encoder's variant name and its full config, the head name and options, and the task
spec (name, family, label names), so a saved finetuned model is self-describing: ``pixel-train evaluate``
rebuilds it from its directory alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from transformers import PretrainedConfig
from transformers.utils import ModelOutput

from pixelkit.schemas import SchemaError, TaskSpec

from .models.base import LoadingError, PixelkitModel
from .models.hfconfig import PixelkitConfig
from .spec import FAMILIES, ConfigError, check_fields, check_modality, check_sizes, read_json_object

# heads and the models registry are imported where used: hf.register imports this module while models/ is still
# loading (models.base is complete by then)


class TaskConfig(PixelkitConfig):
    model_type = "pixelkit-task"

    def __init__(self, encoder: str = "pixel", encoder_config: dict | None = None, head: str = "sequence",
                 head_options: dict | None = None, task: dict | None = None, initializer_range: float = 0.02,
                 modality: str | None = None, **kwargs):
        self.encoder, self.encoder_config = encoder, dict(encoder_config or {})
        self.modality = modality  # text | pixel | pair (PixelGPT's input modes); None: the variant's own
        self.head, self.head_options = head, dict(head_options or {})
        self.task = dict(task or {})
        self.initializer_range = initializer_range
        super().__init__(**kwargs)

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec.from_dict(self.task)

    def encoder_cfg(self):
        from .models import get_variant
        return get_variant(self.encoder).config_class.from_dict(self.encoder_config)

    def kind(self) -> str:
        """What the encoder reads: patches, tokens or pair (image then text)."""
        from .heads.encoders import encoder_class
        from .heads.modal import KINDS
        own = encoder_class(self.encoder).kind
        return own if self.modality is None or own == "tokens" else KINDS[self.modality]

    def num_outputs(self) -> int:
        return 0 if self.task["family"] in ("regression", "qa") else len(self.task["label_names"])


TASK_FIELDS = ("encoder", "encoder_config", "head", "head_options", "task", "modality")  # TaskConfig's own


def check_task_config(cfg: dict, where: Path | str,
                      why: str = "the file is damaged or not a finetuned model's config") -> None:
    """A saved task model's config.json before anything is built from it (untrusted: a damaged file was a
    ValueError, KeyError or RuntimeError traceback inside the constructor): its encoder a registered variant with a
    config of sound sizes and settings, its task and head named as the heads read them. ``why``: what the error
    blames (the file, or from_pretrained's keywords)."""
    if cfg.get("model_type") != TaskConfig.model_type:
        return  # another model's directory: PixelkitModel.from_pretrained names it
    from .models import get_variant
    enc, task = cfg.get("encoder"), cfg.get("task")
    labelled = isinstance(task, dict) and task.get("family") not in ("regression", "qa")
    problems = [f"{key} must be {what}" for key, bad, what in (
        ("encoder", not isinstance(enc, str), "a variant name"),
        ("encoder_config", not isinstance(cfg.get("encoder_config"), dict), "an object (the encoder's config)"),
        ("head", not isinstance(cfg.get("head"), str), "a head name"),
        ("head_options", not isinstance(cfg.get("head_options") or {}, dict), "an object"),
        ("task", not isinstance(task, dict) or task.get("family") not in FAMILIES, f"an object whose family is one "
                                                                                   f"of {', '.join(FAMILIES)}"),
        ("task.label_names", labelled and not (isinstance(task.get("label_names"), list) and all(
            isinstance(n, str) for n in task["label_names"])), "a list of names")) if bad]
    if problems:
        raise LoadingError(f"{where}: {'; '.join(problems)}; {why}")
    try:  # the task spec as pixel-render task wrote it, and an input mode the encoder reads (a bogus modality was a
        # KeyError, 'text' on a PIXEL encoder an AttributeError inside the constructor; a bad spec loaded silently)
        get_variant(enc)
        TaskSpec.from_dict(task)
        if cfg.get("modality") is not None:
            check_modality(cfg["modality"], enc, task["family"], True)
    except (ConfigError, SchemaError) as e:
        raise LoadingError(f"{where}: {e}; {why}") from None
    check_sizes(cfg["encoder_config"], f"{where} encoder_config")
    check_fields(cfg["encoder_config"], get_variant(enc).config_class, f"{where} encoder_config")


@dataclass
class TaskOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    outputs: dict | None = None  # the head's named outputs (logits / arc + rel / start + end)


class TaskModel(PixelkitModel):
    """``from_pretrained`` is ``PixelkitModel``'s: a saved task model whose file lacks a tensor (the head's, an
    encoder layer's), has an extra one or one of another shape is refused, naming them (``pixel-train evaluate``
    and the suite's scoring would otherwise score a head left random)."""

    config_class = TaskConfig
    base_model_prefix = "task"
    main_input_name = "pixel_values"
    _supports_sdpa = True

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        path = Path(pretrained_model_name_or_path) / "config.json"
        config = kwargs.get("config")
        ours = isinstance(config, TaskConfig) and Path(str(config.name_or_path or "")) == path.parent
        if path.is_file() and (ours or not isinstance(config, PretrainedConfig)):
            from .importers import detect
            if fmt := detect(path.parent):
                raise LoadingError(f"{path.parent} holds a published {fmt} checkpoint (pretrained, no task head), not "
                                   f"a finetuned model: finetune it first (pixel-train finetune --init "
                                   f"{path.parent}), then give that run's best/ or model/ dir")
            saved = read_json_object(path, LoadingError)
            check_task_config(saved, path)
            # from_pretrained's keywords: applied to the config AutoModel read from path/config.json (AutoConfig took
            # them), or still here; a bad one was blamed on config.json, or a KeyError / AttributeError traceback
            used = config.to_dict() if ours else {**saved, **{k: v for k, v in kwargs.items() if k in TASK_FIELDS}}
            given = [k for k in TASK_FIELDS if k in used and used[k] != saved.get(k)]
            if given:
                check_task_config({**saved, **{k: used[k] for k in given}},
                                  f"from_pretrained({path.parent}, {', '.join(f'{k}={used[k]!r}' for k in given)})",
                                  f"the keyword{'s' if len(given) > 1 else ''} {', '.join(given)} "
                                  f"{'do' if len(given) > 1 else 'does'} not fit this model")
        elif isinstance(config, TaskConfig):  # a config built in code, given with config=
            check_task_config(config.to_dict(), "the config given to from_pretrained")
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)

    def __init__(self, config: TaskConfig):
        super().__init__(config)
        enc_cfg = config.encoder_cfg()
        from .heads import get_head
        from .heads.modal import build_encoder
        self.encoder = build_encoder(config.encoder, enc_cfg, config.modality)
        head = get_head(config.head)
        options = head.check(config.task["family"], self.encoder.kind, config.head_options)
        self.head = head.build(enc_cfg.hidden_size, config.num_outputs(), options, self.encoder)
        self.post_init()

    def _initialize_weights(self, module, is_custom_code: bool = False):
        # transformers treats a model defined outside it as "custom code" and then skips every module with no
        # parameters of its own as already initialised -- this one, so init_new never ran (a PMA seed stayed
        # uninitialised memory). Our init goes through the guarded init functions, so the shortcut is not needed.
        super()._initialize_weights(module, False)

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if module is self:
            self.encoder.init_new()
            self.head.init_new()

    def forward(self, pixel_values=None, attention_mask=None, input_ids=None, text_attention=None,
                **labels) -> TaskOutput:
        inputs = {"pixel_values": pixel_values, "input_ids": input_ids, "text_attention": text_attention}
        enc = self.encoder(**{k: v for k, v in inputs.items() if v is not None}, attention_mask=attention_mask)
        loss, out = self.head(enc, **labels)
        return TaskOutput(loss=loss, logits=next(iter(out.values())), outputs=out)


@dataclass(frozen=True)
class TaskVariant:
    """What the engine needs of a "variant" (name, classes, collate, stats), for a task model."""

    name: str
    config_class: type = TaskConfig
    model_class: type = TaskModel
    visualize: Any = None

    @staticmethod
    def collate(samples: list, config: TaskConfig, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """Encoder inputs + the head's label tensors (the pixels through ``batch_patches``: the batch's own array
        when the stream decoded the strips into its rows, else a copy; never written to)."""
        kind = config.kind()
        from .heads import get_head
        from .heads.base import check_label_ids
        from .heads.modal import modal_inputs
        batch = modal_inputs(samples, SimpleNamespace(**config.encoder_config), kind)  # (no config object per batch)
        units, width = ("tokens", batch["input_ids"].shape[1]) if kind == "tokens" else ("patches", None)
        batch.update(get_head(config.head).collate(samples, config.task["family"], units, width))
        check_label_ids(samples, batch, config.task)
        return batch

    @staticmethod
    def stats(batch: dict[str, torch.Tensor]) -> dict[str, int]:
        from .heads.modal import modal_stats
        return modal_stats(batch)


class _FamilyTaskModel(TaskModel):
    """A ``TaskModel`` loaded through a task family's Auto class (``hf.FAMILY_AUTO``): one of another family is
    refused, naming the Auto class that fits (a tagger is no sequence classifier)."""

    auto = "AutoModel"

    def __init__(self, config: TaskConfig):
        from .hf import FAMILY_AUTO
        family = config.task.get("family")
        if FAMILY_AUTO.get(family) != self.auto:
            raise LoadingError(f"{config.name_or_path or 'this config'} holds a {family} model "
                               f"({config.task.get('name')}), which {self.auto} does not load: use "
                               f"{FAMILY_AUTO.get(family, 'AutoModel')} or AutoModel")
        super().__init__(config)


class TaskModelForSequenceClassification(_FamilyTaskModel):
    auto = "AutoModelForSequenceClassification"


class TaskModelForTokenClassification(_FamilyTaskModel):
    auto = "AutoModelForTokenClassification"


class TaskModelForQuestionAnswering(_FamilyTaskModel):
    auto = "AutoModelForQuestionAnswering"


def _register() -> None:
    import transformers
    from transformers import AutoConfig, AutoModel
    AutoConfig.register(TaskConfig.model_type, TaskConfig, exist_ok=True)
    AutoModel.register(TaskConfig, TaskModel, exist_ok=True)
    for cls in (TaskModelForSequenceClassification, TaskModelForTokenClassification, TaskModelForQuestionAnswering):
        getattr(transformers, cls.auto).register(TaskConfig, cls, exist_ok=True)


_register()  # AutoModel (and its family's Auto class) loads a finetuned model after ``import pixelkit``
