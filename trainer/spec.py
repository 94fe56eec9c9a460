"""Torch-free names the CLI, the run config and the registries share: reading a run file or ``--help`` must not
import torch (a test checks). Models, heads and the engine import these; these import nothing heavy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from pixelkit.schemas.vocab import channels


class ConfigError(ValueError):
    """A model/data/run setting that cannot work; the message names the setting and the fix."""


@dataclass(frozen=True)
class DataInfo:
    """What the shard manifest says about the pixels (and tokens) a model will see."""

    mode: str  # gray | rgb | binary
    patch_size: int  # pixels per patch side (strip height)
    max_patches: int  # strip width // patch_size (EOS and padding included)
    vocab_size: int | None = None  # tokenizer vocab size from the manifest, if the shards carry token ids
    tokenizer_name: str | None = None  # the manifest's tokenizer: its file name and sha256 (None: unknown)
    tokenizer_sha256: str | None = None

    @property
    def channels(self) -> int:
        return channels(self.mode)


def read_json(path: Path, error: type[Exception] = ConfigError, prefix: str = ""):
    """A JSON file we did not write (a checkpoint's config.json or index): ``error`` naming it if it is not."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise error(f"{prefix}{path} is not valid JSON ({type(e).__name__}: {str(e)[:120]})") from None


def read_json_object(path: Path, error: type[Exception] = ConfigError, prefix: str = "") -> dict:
    obj = read_json(path, error, prefix)
    if not isinstance(obj, dict):
        raise error(f"{prefix}{path} holds a JSON {type(obj).__name__}, not an object")
    return obj


def weight_files(path: Path, error: type[Exception] = ConfigError, prefix: str = "") -> list[Path]:
    """The files ``save_pretrained`` wrote, as transformers reads them: the shards ``model.safetensors.index.json``
    names, else ``model.safetensors`` ([] if neither) -- not every ``*.safetensors``, where a stale copy beside
    them (``model_old.safetensors``) replaced or contradicted the weights."""
    index = Path(path) / "model.safetensors.index.json"
    if index.is_file():
        weight_map = read_json_object(index, error, prefix).get("weight_map")
        names = sorted(set(weight_map.values())) if isinstance(weight_map, dict) else None
        if not names or not all(isinstance(n, str) and Path(n).name == n and n not in (".", "..") for n in names):
            raise error(f"{prefix}{index}: 'weight_map' must map tensor names to shard files in {path}")
        return [Path(path) / n for n in names]
    single = Path(path) / "model.safetensors"
    if (single.is_symlink() or single.exists()) and not single.is_file():
        raise error(f"{prefix}{single} is not a file (a directory, or a link to nothing); save or copy the model "
                    f"again")
    return [single] if single.is_file() else []


# config.json sizes a model is built from: whole numbers >= 1 (max_text_tokens >= 0); a file is untrusted, and
# a negative, zero, fractional or textual size was a torch / ZeroDivisionError traceback deep in a constructor
SIZES = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
         "decoder_hidden_size", "decoder_intermediate_size", "decoder_num_hidden_layers",
         "decoder_num_attention_heads", "patch_size", "num_channels", "num_channel", "patch_len", "num_patches",
         "max_position_embeddings", "vocab_size", "max_text_tokens")


def check_sizes(cfg: dict, where) -> None:
    """ConfigError naming ``where`` (a config.json) when a size in ``cfg`` is not a whole number >= 1 (>= 0 for
    ``max_text_tokens``; ``num_key_value_heads`` may be null) or a width does not split into its heads."""
    bad = []
    for key in SIZES:
        if key not in cfg or (key == "num_key_value_heads" and cfg[key] is None):
            continue
        v, low = cfg[key], 0 if key == "max_text_tokens" else 1
        if type(v) is not int or v < low:
            bad.append(f"{key}={v!r}")
    size = cfg.get("image_size", 1)  # published layouts: an int or (height, width)
    pair = isinstance(size, (list, tuple)) and len(size) == 2
    if not all(type(v) is int and v >= 1 for v in (size if pair else [size])):
        bad.append(f"image_size={size!r}")
    if bad:
        raise ConfigError(f"{where}: {', '.join(bad)}: sizes must be whole numbers >= 1 (max_text_tokens >= 0); "
                          f"the file is damaged or not a model config")
    for width, heads in (("hidden_size", "num_attention_heads"), ("decoder_hidden_size", "decoder_num_attention_heads"),
                         ("num_attention_heads", "num_key_value_heads")):
        if isinstance(cfg.get(width), int) and isinstance(cfg.get(heads), int) and cfg[width] % cfg[heads]:
            raise ConfigError(f"{where}: {width}={cfg[width]} does not split into {heads}={cfg[heads]}")


# (config.json key, test, what it must be): read by transformers' from_pretrained itself -- a quantization config
# asked for bitsandbytes (ImportError), flash attention a ValueError, an integer dtype another, a text id2label an
# AttributeError; our models are full precision with eager / sdpa attention
FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")  # + "auto" as torch_dtype ("auto" as dtype: an
# AttributeError in transformers' config; so was another name, and an id2label key that is no number a ValueError)


def _label_ids(v) -> bool:
    try:
        return isinstance(v, dict) and [int(k) for k in v] is not None  # the keys transformers turns into ints
    except (TypeError, ValueError):
        return False


LOADING_FIELDS = (
    ("quantization_config", lambda v: False, "pixelkit loads full-precision weights only (no quantized checkpoints)"),
    ("_attn_implementation", lambda v: v in ("eager", "sdpa"), "our models run attention 'eager' or 'sdpa'"),
    ("attn_implementation", lambda v: v in ("eager", "sdpa"), "our models run attention 'eager' or 'sdpa'"),
    ("dtype", lambda v: v in FLOAT_DTYPES, f"one of {', '.join(FLOAT_DTYPES)}"),
    ("torch_dtype", lambda v: v in (*FLOAT_DTYPES, "auto"), f"one of {', '.join(FLOAT_DTYPES)}, auto"),
    ("id2label", _label_ids, "an object (label id, a whole number -> name)"),
    ("label2id", lambda v: isinstance(v, dict), "an object (label name -> id)"),
)


def check_loading_fields(cfg: dict, where) -> None:
    """ConfigError naming ``where`` when ``cfg`` holds a ``LOADING_FIELDS`` value transformers cannot act on (its
    configs raised a traceback, or its loader went on to load what our models do not support). Also run by our
    config classes' ``from_dict``, which ``AutoConfig`` / ``AutoModel`` call before any pixelkit code sees the file."""
    for key, ok, what in LOADING_FIELDS:
        if cfg.get(key) is not None and not ok(cfg[key]):
            raise ConfigError(f"{where}: {key}={cfg[key]!r}: {what}; the file is damaged or not this model's config")


def check_fields(cfg: dict, config_class, where) -> None:
    """ConfigError naming ``where`` when a setting of ``config_class`` that ``cfg`` holds (besides ``SIZES``) has
    another type than the class's default -- a bool for a flag, a finite number for a float -- or an impossible
    value (an eps <= 0, a dropout / ratio outside [0, 1], a negative init range): the config constructor raised a
    StrictDataclassFieldValidationError traceback, weight init a TypeError, or the model was built silently with
    a string mask ratio and failed in training."""
    defaults, bad = config_class().to_dict(), []
    for key, v in cfg.items():
        d = defaults.get(key)
        if d is None and v is not None and key in defaults and key.endswith("_eps"):
            d = 1.0  # an optional epsilon (PIXEL's decoder_norm_eps; null: the encoder's) -- "x" or -1 loaded silently
        if key == "hidden_act" and isinstance(d, str):  # an unknown name was a KeyError inside the constructor
            from transformers.activations import ACT2FN
            if not (isinstance(v, str) and v in ACT2FN):
                bad.append(f"{key}={v!r}")
            continue
        if isinstance(d, list):  # GPT row kinds: a config may narrow its variant's, not add any ("x", [7] loaded)
            if not (isinstance(v, list) and v and len(set(map(repr, v))) == len(v)
                    and all(type(x) is type(d[0]) and x in d for x in v)):
                bad.append(f"{key}={v!r}")
            continue
        if key in SIZES or d is None or not isinstance(d, (bool, int, float)):
            continue
        if isinstance(d, bool):
            ok = isinstance(v, bool)
        else:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and (
                (v > 0) if "eps" in key else (0 <= v <= 1) if ("dropout" in key or key.endswith(("_prob", "_ratio")))
                else (v >= 0) if key == "initializer_range" else True)
        if not ok:
            bad.append(f"{key}={v!r}")
    check_loading_fields(cfg, where)  # fields transformers acts on while loading (tracebacks from inside it)
    if bad:
        raise ConfigError(f"{where}: {', '.join(bad)}: not what {config_class.__name__} takes (flags true / false; "
                          f"numbers: epsilons > 0, dropouts and ratios in [0, 1], initializer_range >= 0; hidden_act "
                          f"an activation transformers knows; kinds a non-empty subset of the variant's); the file "
                          f"is damaged or not this model's config")


# beside a saved model (``model/``, ``best/``): the tokenizer whose token ids it was trained on
TOKENIZER_RECORD = "tokenizer-identity.json"


def tokenizer_record(info: DataInfo) -> dict | None:
    if not info.tokenizer_sha256:
        return None
    return {"name": info.tokenizer_name, "sha256": info.tokenizer_sha256, "vocab_size": info.vocab_size}


def other_tokenizer(a: DataInfo, b: DataInfo) -> bool:
    """Both carry token ids from known tokenizers, and not the same one."""
    return bool(a.vocab_size and b.vocab_size and a.tokenizer_sha256 and b.tokenizer_sha256
                and a.tokenizer_sha256 != b.tokenizer_sha256)


def check_tokenizer(model_dir, model_vocab: int | None, info: DataInfo, what: str) -> None:
    """Token ids mean what their tokenizer says: a model trained on one tokenizer's ids must not read another's
    (a larger vocabulary crashed in the embedding; one of the same size trained and scored on wrong tokens)."""
    if not info.vocab_size:
        return
    p = Path(model_dir) / TOKENIZER_RECORD
    rec = None
    if p.is_file():
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ConfigError(f"{p} is damaged ({e}): delete it to skip the tokenizer check") from None
    if isinstance(rec, dict) and isinstance(rec.get("sha256"), str) and info.tokenizer_sha256 \
            and rec["sha256"] != info.tokenizer_sha256:
        raise ConfigError(f"{what} hold token ids of tokenizer {info.tokenizer_name} (sha256 "
                          f"{info.tokenizer_sha256[:12]}), but {model_dir} was trained on those of "
                          f"{rec.get('name')} (sha256 {rec['sha256'][:12]}): an id would mean another token. "
                          f"Render them with --tokenizer <that {rec.get('name')}>")
    if model_vocab and info.vocab_size > model_vocab:
        raise ConfigError(f"{what} hold token ids of a {info.vocab_size}-token vocabulary ({info.tokenizer_name}), "
                          f"but {model_dir} embeds {model_vocab}: render them with the model's tokenizer")


# task family -> (default head, default metric key the best checkpoint is chosen by)
FAMILIES: dict[str, tuple[str, str]] = {
    "classification": ("sequence", "accuracy"),
    "regression": ("sequence", "pearson"),
    "tagging": ("tagging", "accuracy"),
    "parsing": ("biaffine", "las"),
    "qa": ("qa", "f1"),
}
# what `pixel-train finetune --task X` may say besides a task's name or family
TASK_ALIASES = {"pos": "tagging", "ner": "tagging", "upos": "tagging", "parse": "parsing", "ud": "parsing",
                "glue": "classification", "sts": "regression", "squad": "qa"}
# the metric the task spec names -> the key of that metric's dict the best checkpoint is chosen by
MAIN_METRIC = {"accuracy": "accuracy", "f1": "f1", "mcc": "mcc", "pearson_spearman": "pearson",
               "accuracy_f1": "f1", "seqeval": "f1", "uas_las": "las", "squad": "f1"}
# every score key ``tasks.score`` gives for the metric a task spec names (what task.metric / a suite's metric may
# name; counts such as n and words are not scores). tests/test_scores.py checks it against score()
METRIC_KEYS = {"accuracy": ("accuracy",), "f1": ("accuracy", "f1"), "accuracy_f1": ("accuracy", "f1"),
               "mcc": ("mcc", "accuracy"), "pearson_spearman": ("pearson", "spearman"),
               "seqeval": ("precision", "recall", "f1"), "uas_las": ("uas", "las", "conll18_uas", "conll18_las"),
               "squad": ("exact_match", "f1", "korquad_exact_match", "korquad_f1")}


ALIAS_METRICS = {"pos": "accuracy", "upos": "accuracy", "ner": "seqeval"}  # tagging aliases that name one kind


def resolve_task(requested: str | None, name: str, family: str, metric: str | None = None,
                 setting: str = "task.name") -> None:
    """``task.name`` must name the shards' task, its family, or an alias of the family (``pos`` / ``ner``: of that
    kind of tagging, by the task's metric, so NER shards are not finetuned as POS nor POS shards as NER);
    ``setting`` names where the value came from (``--task``, ``--set task.name``) in the error."""
    if requested is None or requested in (name, family):
        return
    if TASK_ALIASES.get(requested) == family and ALIAS_METRICS.get(requested, metric) == metric:
        return
    raise ConfigError(f"{setting} {requested!r} does not match the shards' task {name!r} (family {family!r}); "
                      f"give {name!r}, {family!r} or leave {setting} out")


# PixelGPT's input modes (Chai et al. 2024, Tables 1-2): what each variant may read when finetuned. "pair" is the
# released layout: the whole strip's patches first, then the same text's token ids (text token j at position N + j).
MODALITIES: dict[str, tuple[str, ...]] = {"textgpt": ("text",), "pixelgpt": ("pixel",), "monogpt": ("text", "pixel", "pair"),
                                          "dualgpt": ("text", "pixel", "pair")}
PAIR_FAMILIES = ("classification", "regression")  # the pair layout has a sequence head only (as the release)
TOKEN_UNIT_FAMILIES = ("tagging", "parsing", "qa")  # on token input: the shards' word / offset alignment (1.2)


def default_modality(variant: str) -> str:
    return "text" if variant == "textgpt" else "pixel"


def check_modality(modality: str | None, variant: str, family: str, has_tokens: bool) -> str:
    """``task.modality`` against the variant, the task family and the shards; the mode to use, or ConfigError."""
    if modality is None:
        return default_modality(variant)
    allowed = MODALITIES.get(variant, ("pixel",))
    if modality not in ("text", "pixel", "pair"):
        raise ConfigError(f"task.modality {modality!r}: one of text, pixel, pair")
    if modality not in allowed:
        raise ConfigError(f"task.modality {modality!r} is not an input mode of {variant} (it reads "
                          f"{' / '.join(allowed)}); use {allowed[0]!r} or a MonoGPT / DualGPT checkpoint")
    if modality == "pair" and family not in PAIR_FAMILIES:
        raise ConfigError(f"task.modality 'pair' serves classification / regression tasks, not {family!r} "
                          f"(PixelGPT's pair layout has a sequence head only); use task.modality=text or pixel")
    if modality != "pixel" and not has_tokens:
        raise ConfigError(f"task.modality {modality!r} needs token ids in the task shards; render the task with "
                          f"pixel-render task --tokenizer TOKENIZER")
    return modality

# Published checkpoint formats `pixel-train import` reads: one module under trainer/importers/ and one line here.
IMPORT_FORMATS: dict[str, str] = {
    "pixel-hf": "pixelkit.trainer.importers.pixel_hf",  # xplip/pixel PIXELForPreTraining (Team-PIXEL/pixel-base)
    "pixelgpt-hf": "pixelkit.trainer.importers.pixelgpt_hf",  # ernie-research/pixelgpt ErniePixelForCausalLM (baidu/*GPT)
    "pixar": "pixelkit.trainer.importers.pixar",  # april-tools/pixar LlamaForPatchCausalInference backbone
}
