"""One rendered sample: what a shard member holds and how it maps to WebDataset fields.

A sample is three tar members sharing one key: ``<key>.json`` (everything but text and pixels),
``<key>.txt`` (the source text, UTF-8) and ``<key>.<encoding>`` (the pixel payload; the extension names
the encoding, e.g. ``png`` or ``pxz``). Readers decode only these fields, never pickles.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec
import msgspec.structs
import numpy as np

from . import typed
from .codec import ENCODINGS, MAX_PIXEL_BYTES, decode_pixels
from .typed import SchemaError
from .vocab import CHANNELS, MAX_META_BYTES, MODES

SCHEMA_VERSION = "1.2"  # 1.1 added the optional task fields word_index, context_span, answers and replaced_chars;
# 1.2 added conllu and conllu_origin (UD parsing: the sentence's CoNLL-U block and where it was read, so predictions
# can be written as a file the UD scorer reads, in the gold file's order) and the token side of task samples:
# word_tokens, token_offsets, token_answer and tokens_truncated
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,199}\Z")  # no dots: webdataset splits key/ext at the first dot
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_VERSION_RE = re.compile(r"^(\d{1,9})\.\d{1,9}\Z")


@functools.lru_cache(maxsize=1024)
def _key_source(source: str) -> str:
    src = re.sub(r"[^A-Za-z0-9_-]", "-", source)[:40] or "src"
    if src[0] in "_-":  # a key starts with a letter or digit: "книги" (all "-----") or "-books" failed every sample
        src = "s" + hashlib.sha1(source.encode("utf-8", "surrogatepass")).hexdigest()[:12]  # and one per name
    return src


def make_key(source: str, doc_id: str | int, chunk_index: int) -> str:
    """Deterministic key from (source, document id, chunk index); ids that are not key-safe are hashed."""
    src = _key_source(source)
    doc = str(doc_id)
    if not _SAFE_ID.match(doc):
        doc = "h" + hashlib.sha1(doc.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"{src}_{doc}_{chunk_index:04d}"


@dataclass
class RenderedSample:
    key: str
    pixels: bytes  # encoded payload
    encoding: str  # one of codec.ENCODINGS; also the tar member's extension
    mode: str  # gray | rgb | binary
    height: int
    width: int
    patch_size: int
    num_patches: int  # patches before EOS (PIXEL's count; a pair's SEP counts); attention covers num_patches + 1
    text: str
    source: str
    doc_id: str
    chunk_index: int = 0
    unknown_glyphs: int = 0
    truncated: bool = False
    replaced_chars: int = 0  # control characters / lone surrogates in the input, drawn as spaces / U+FFFD
    sep_patches: list[int] = field(default_factory=list)  # black patches: [eos] or [sep, eos]
    token_ids: list[int] | None = None  # the same text, tokenized by the manifest's tokenizer
    word_starts: list[int] | None = None  # words input: patch where word i starts
    offset_mapping: list[list[int]] | None = None  # QA: per patch [start, end) char offsets, [-1, -1] if none
    label: int | float | str | None = None  # sequence-level task label
    labels: list[Any] | None = None  # word-level task labels (POS tags, NER tags, heads ...)
    schema_version: str = SCHEMA_VERSION
    # -- 1.1: task fields (left out of the json member when None, so pretraining samples read as before) --
    word_index: list[int] | None = None  # words input: which rendered word (index into word_starts) labels[i] is in
    context_span: list[int] | None = None  # QA window: [start, end) characters of the context it holds
    answers: dict[str, list] | None = None  # QA: every gold answer, {"text": [...], "answer_start": [...]}
    # -- 1.2 (left out when None) --
    conllu: str | None = None  # UD parsing: the sentence's CoNLL-U block as read (comments, token lines, no blank line)
    conllu_origin: list[Any] | None = None  # UD parsing: [file name, 1-based line of its first token]
    # the token side of task samples (left out when None / False):
    word_tokens: list[list[int]] | None = None  # words input + tokenizer: per rendered word [first, end) into token_ids
    token_offsets: list[list[int]] | None = None  # QA + tokenizer: per token [start, end) context chars, [-1, -1] if none
    token_answer: list[int] | None = None  # QA + tokenizer: [start_token, end_token] of the answer, [-1, -1] if not in it
    tokens_truncated: bool = False  # token_ids cut at pixel-render task --max_tokens

    # -- derived ------------------------------------------------------------------------------------------
    @property
    def channels(self) -> int:
        return CHANNELS.get(self.mode, 1)  # an unknown mode is refused by validate()

    @property
    def max_patches(self) -> int:
        return self.width // self.patch_size

    def decode(self, out: np.ndarray | None = None) -> np.ndarray:
        """The pixel array: (H, W) uint8 for gray/binary, (H, W, 3) for rgb (``out``: see ``decode_pixels``)."""
        return decode_pixels(self.pixels, self.encoding, mode=self.mode, height=self.height, width=self.width,
                             out=out)

    # -- validation -----------------------------------------------------------------------------------------
    def validate(self) -> "RenderedSample":
        """Every field against the contract (SchemaError naming the first one that breaks it). Written as plain
        ``if`` statements, no closure or message built per check: the loader validates every sample it reads."""
        if not (isinstance(self.key, str) and KEY_RE.match(self.key) is not None):
            self._fail("key must be 1-200 chars of [A-Za-z0-9_-] (no dots)")
        if not compatible(self.schema_version):
            self._fail(f"schema_version {self.schema_version!r} is not compatible with {SCHEMA_VERSION}")
        if self.encoding not in ENCODINGS:
            self._fail(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if self.mode not in MODES:
            self._fail(f"mode must be one of {MODES}, got {self.mode!r}")
        if not (isinstance(self.pixels, (bytes, bytearray)) and len(self.pixels) > 0):
            self._fail("pixels must be non-empty bytes")
        h, w, ps, n = self.height, self.width, self.patch_size, self.num_patches
        if not (type(h) is int and type(w) is int and type(ps) is int and type(n) is int
                and type(self.chunk_index) is int and type(self.unknown_glyphs) is int
                and type(self.replaced_chars) is int and h >= 0 and w >= 0 and ps >= 0 and n >= 0
                and self.chunk_index >= 0 and self.unknown_glyphs >= 0 and self.replaced_chars >= 0):
            for name in _INT_FIELDS:  # bools refused too
                v = getattr(self, name)
                if type(v) is not int or v < 0:
                    self._fail(f"{name} must be an int >= 0, got {v!r}")
        if not (ps > 0 and h == ps):
            self._fail("height must equal patch_size (one-row strips)")
        if w % ps != 0:
            self._fail("width must be a multiple of patch_size")
        if h * w * self.channels > MAX_PIXEL_BYTES:  # before anyone allocates for it
            self._fail(f"{h}x{w} {self.mode} strip is over {MAX_PIXEL_BYTES} bytes")
        mp = w // ps
        if n >= mp:
            self._fail(f"num_patches {n} leaves no room for EOS")
        if not isinstance(self.truncated, bool):
            self._fail("truncated must be a bool")
        if not (isinstance(self.text, str) and isinstance(self.source, str) and isinstance(self.doc_id, str)):
            self._fail("text, source and doc_id must be str")
        sep = self.sep_patches
        if not (_int_list(sep) and all(0 <= p < mp for p in sep)):
            self._fail("sep_patches must be patch indices inside the strip")
        if self.token_ids is not None and not (_int_list(self.token_ids) and min(self.token_ids, default=0) >= 0):
            self._fail("token_ids must be ints >= 0")
        ws = self.word_starts
        if ws is not None and not (_int_list(ws) and all(0 <= x < mp for x in ws)
                                   and all(a < b for a, b in zip(ws, ws[1:]))):
            self._fail("word_starts must be increasing patch indices")
        om = self.offset_mapping
        if om is not None and not (isinstance(om, list) and len(om) == mp
                                   and all(_int_list(p) and len(p) == 2 for p in om)):
            self._fail("offset_mapping must hold one [start, end] pair per patch")
        if self.labels is not None and not isinstance(self.labels, list):
            self._fail("labels must be a list")
        if not (self.label is None or isinstance(self.label, (int, float, str))):
            self._fail("label must be int, float or str")
        wi = self.word_index
        if wi is not None:
            if not (_int_list(wi) and all(a <= b for a, b in zip(wi, wi[1:])) and min(wi, default=0) >= 0):
                self._fail("word_index must be non-decreasing ints >= 0")
            if not (self.labels is not None and len(self.labels) == len(wi)):
                self._fail("word_index needs one entry per label")
            if not (ws is not None and all(i < len(ws) for i in wi)):
                self._fail("word_index must point into word_starts")
        cs = self.context_span
        if cs is not None and not (_int_list(cs) and len(cs) == 2 and 0 <= cs[0] <= cs[1]):
            self._fail("context_span must be [start, end]")
        a = self.answers
        if a is not None and not (isinstance(a, dict) and set(a) == {"text", "answer_start"}
                                  and isinstance(a["text"], list) and all(isinstance(t, str) for t in a["text"])
                                  and _int_list(a["answer_start"]) and len(a["text"]) == len(a["answer_start"])):
            self._fail('answers must be {"text": [str], "answer_start": [int]} of equal length')
        if self.conllu is not None and not (isinstance(self.conllu, str) and self.conllu and "\n\n" not in self.conllu):
            self._fail("conllu must be one sentence's non-empty CoNLL-U block (no blank line)")
        o = self.conllu_origin
        if o is not None and not (isinstance(o, list) and len(o) == 2 and isinstance(o[0], str)
                                  and type(o[1]) is int and o[1] >= 1):
            self._fail("conllu_origin must be [file name, line >= 1]")
        if self.word_tokens is not None or self.token_offsets is not None or self.token_answer is not None \
                or self.tokens_truncated is not False:
            self._validate_token_side()
        return self

    def _validate_token_side(self) -> None:
        if not isinstance(self.tokens_truncated, bool):
            self._fail("tokens_truncated must be a bool")
        n = len(self.token_ids) if self.token_ids is not None else -1
        wt = self.word_tokens
        if wt is not None:
            if n < 0 or not (isinstance(wt, list) and all(_int_list(p) and len(p) == 2 and 0 <= p[0] < p[1] <= n
                                                          for p in wt)):
                self._fail("word_tokens must hold one [first, end) token span per word, inside token_ids")
            if not all(a[1] <= b[0] for a, b in zip(wt, wt[1:])):
                self._fail("word_tokens spans must be increasing and not share a token")
            if self.word_starts is None or len(wt) > len(self.word_starts):
                self._fail("word_tokens needs word_starts and at most one span per rendered word")
        to = self.token_offsets
        if to is not None and not (isinstance(to, list) and len(to) == n
                                   and all(_int_list(p) and len(p) == 2 for p in to)):
            self._fail("token_offsets must hold one [start, end] pair per token id")
        ta = self.token_answer
        if ta is not None and not (_int_list(ta) and len(ta) == 2 and to is not None
                                   and (ta == [-1, -1] or 0 <= ta[0] <= ta[1] < n)):
            self._fail("token_answer must be [start_token, end_token] inside token_offsets, or [-1, -1]")

    def _fail(self, message: str) -> None:
        raise SchemaError(f"sample {self.key!r}: {message}")

    # -- WebDataset mapping ---------------------------------------------------------------------------------
    def meta(self) -> dict:
        # A shallow dict of the fields (json.dumps copies nothing): dataclasses.asdict deep-copied every token id,
        # which made this the sink's largest per-sample cost (tests/benchmarks/results/pipeline.md)
        d = {name: getattr(self, name) for name in _META_FIELDS}
        for name in _OPTIONAL_1_1:
            if d[name] is None:
                del d[name]
        if not d["replaced_chars"]:  # written only when something was replaced: clean samples' bytes are as in 1.0
            del d["replaced_chars"]
        if d["tokens_truncated"] is False:
            del d["tokens_truncated"]
        return d

    def to_wds(self) -> dict[str, Any]:
        """The dict webdataset's TarWriter takes: ``__key__`` plus one bytes value per field extension."""
        self.validate()
        meta = json.dumps(self.meta(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return {
            "__key__": self.key,
            "json": meta.encode("utf-8"),
            "txt": self.text.encode("utf-8"),
            self.encoding: bytes(self.pixels),
        }

    @classmethod
    def from_wds(cls, sample: dict[str, Any]) -> "RenderedSample":
        """Rebuild from raw tar fields (bytes values, as webdataset yields them before any decoding)."""
        key = sample.get("__key__")
        if "json" not in sample or "txt" not in sample:
            raise SchemaError(f"sample {key!r}: missing json or txt member")
        text = _bytes(sample["txt"])
        meta = msgspec.structs.asdict(  # shallow, in C
            typed.decode(_META_DECODER, _bytes(sample["json"]), f"sample {key!r}", MAX_META_BYTES))
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SchemaError(f"sample {key!r}: txt member is not UTF-8: {e}") from None
        enc = meta["encoding"]
        if enc not in ENCODINGS or enc not in sample:
            raise SchemaError(f"sample {key!r}: no pixel member for encoding {enc!r}")
        out = cls(key=key, pixels=_bytes(sample[enc]), text=text, **meta)
        return out.validate()


_INT_FIELDS = ("height", "width", "patch_size", "num_patches", "chunk_index", "unknown_glyphs", "replaced_chars")
_OPTIONAL_1_1 = ("word_index", "context_span", "answers",  # 1.1 / 1.2 fields: left out of the json when None
                 "conllu", "conllu_origin", "word_tokens", "token_offsets", "token_answer")
_META_FIELDS = tuple(f.name for f in dataclasses.fields(RenderedSample) if f.name not in ("key", "pixels", "text"))


def compatible(version: object) -> bool:
    """A ``MAJOR.MINOR`` string with this reader's major version."""
    m = _VERSION_RE.match(version) if isinstance(version, str) else None
    return m is not None and m.group(1) == SCHEMA_VERSION.split(".")[0]


# What a sample's .json member may hold: RenderedSample's own fields (minus key, pixels and text, which are
# members of their own) and types, each int bounded. A new optional field needs only its dataclass line.
_META_DECODER = msgspec.json.Decoder(typed.struct_for(
    RenderedSample, skip=("key", "pixels", "text"),
    bounds={"height": msgspec.Meta(ge=1, le=4096), "patch_size": msgspec.Meta(ge=1, le=4096),
            "width": msgspec.Meta(ge=1, le=MAX_PIXEL_BYTES), "num_patches": typed.INT32,
            "chunk_index": typed.INT32, "unknown_glyphs": typed.INT32,
            "replaced_chars": typed.INT32}))


def _int_list(v: Any) -> bool:
    """A list of plain ints (bools refused); ``map(type)`` keeps this cheap for long token id lists."""
    return isinstance(v, list) and (not v or set(map(type, v)) == {int})


def _bytes(v: Any) -> bytes:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    raise SchemaError(f"expected raw bytes, got {type(v).__name__} (was a webdataset decoder applied?)")


FIELD_EXTENSIONS = ("json", "txt", *ENCODINGS)


def split_member_name(name: str) -> tuple[str, str]:
    """``key.ext`` of a tar member, checked as untrusted input: no paths, no dots in the key, a known field."""
    if "/" in name or "\\" in name or name.startswith("."):
        raise SchemaError(f"tar member {name!r}: paths and hidden names are not allowed")
    key, dot, ext = name.partition(".")
    if not dot or not KEY_RE.match(key) or ext not in FIELD_EXTENSIONS:
        raise SchemaError(f"tar member {name!r}: not <key>.<{'|'.join(FIELD_EXTENSIONS)}>")
    return key, ext
