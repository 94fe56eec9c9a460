"""Pure: a labelled record becomes its task samples (a QA question: one per window), a skip reason, or a dead letter.

Rendering follows PIXEL's finetuning scripts: a sentence, or a pair with a SEP patch (GLUE text cleaned of
spaces before punctuation first, as run_glue.py does for rendered input); words on patch boundaries with
``word_starts`` (POS, NER, parsing); QA as question + SEP + context windows overlapping by ``stride`` patches,
each with its per-patch offset mapping. Every sample also carries the token ids of the text it shows when a
tokenizer is given.
"""

from __future__ import annotations

from typing import Callable

from pixelkit.schemas import RenderedSample, encode_pixels, make_key

from ..documents import DeadLetter, Skipped
from ..render import RenderConfig, Renderer, RenderResult
from .records import LabelledRecord, TaskDef

# run_glue.py's clean-up of GLUE's tokenized text before rendering: the space before punctuation, around quotes
# and brackets, and before "n't" goes (applied in this order).
GLUE_SPACE_FIXES = ((" ,", ","), (" .", "."), (" !", "!"), (" ?", "?"), (" #", "#"), (" /", "/"), (' "', '"'),
                    ('" ', '"'), (" '", "'"), ("' ", "'"), (" n't", "n't"), ("( ", "("), (" )", ")"), ("[ ", "["),
                    (" ]", "]"))
SEP_TOKENS = ("[SEP]", "</s>", "<|endoftext|>", "<sep>")


def glue_format(text: str) -> str:
    for old, new in GLUE_SPACE_FIXES:
        text = text.replace(old, new)
    return text


def pair_encoder(tok) -> Callable[[str, str], list[int]]:
    """Token ids of a pair: the tokenizer's own pair encoding when it has a post-processor (e.g. BERT's
    ``[CLS] A [SEP] B [SEP]``), else A + its separator token + B (the first of SEP_TOKENS in its vocabulary)."""
    if tok.post_processor is not None:
        return lambda a, b: tok.encode(a, b).ids
    sep = next((tok.token_to_id(t) for t in SEP_TOKENS if tok.token_to_id(t) is not None), None)
    if sep is None:
        raise ValueError(f"--tokenizer has no post-processor and none of {SEP_TOKENS}: cannot encode pairs; "
                         "add a separator special token or a TemplateProcessing post-processor")
    return lambda a, b: tok.encode(a).ids + [sep] + tok.encode(b).ids


def answer_patches(offset_mapping, start: int, end: int) -> list[int]:
    """[start_patch, end_patch] (inclusive) of the characters [start, end) in a window's offset mapping."""
    hits = [p for p, (s, e) in enumerate(offset_mapping) if s >= 0 and s < end and e > start]
    return [hits[0], hits[-1]] if hits else [-1, -1]


def prefetch_texts(records: list[LabelledRecord]) -> list[str]:
    """The texts whose words a batch of records will draw, for ``Renderer.prefetch`` (one shaping batch for all)."""
    out = []
    for r in records:
        out.append(" ".join(r.words) if r.words else r.text)
        if r.text_b:
            out.append(r.text_b)
    return out


def _sample(rec: LabelledRecord, res: RenderResult, cfg: RenderConfig, encoding: str, index: int,
            **fields) -> RenderedSample:
    return RenderedSample(
        key=make_key(rec.source, rec.doc_id, index), pixels=encode_pixels(res.pixels, cfg.mode, encoding),
        encoding=encoding, mode=cfg.mode, height=cfg.height, width=cfg.width, patch_size=cfg.pixels_per_patch,
        num_patches=res.num_patches, text=res.text, source=rec.source, doc_id=rec.doc_id, chunk_index=index,
        unknown_glyphs=res.unknown_glyphs, truncated=res.truncated, sep_patches=list(res.sep_patches), **fields)


def _dead(rec: LabelledRecord, reason: str, detail: str) -> DeadLetter:
    return DeadLetter(rec.source, rec.file, rec.position, reason, detail[:300])


def _skip(rec: LabelledRecord, reason: str) -> Skipped:
    return Skipped(rec.source, rec.doc_id, reason)


def render_record(rec: LabelledRecord, renderer: Renderer, cfg: RenderConfig, encoding: str, task: TaskDef,
                  vocab: dict[str, int], tokenizer=None, stride: int = 0) -> list[RenderedSample] | Skipped | DeadLetter:
    """The samples for ``rec``; a snake_case skip reason; or a DeadLetter (label outside the vocabulary, no text)."""
    if task.input == "qa":
        return _render_qa(rec, renderer, cfg, encoding, tokenizer, stride)
    if task.input == "words":
        return _render_words(rec, renderer, cfg, encoding, task, vocab, tokenizer)
    label = rec.label
    if isinstance(label, str):
        if label not in vocab:
            return _dead(rec, "label_not_in_vocabulary", f"label {label!r} not in {sorted(vocab)}")
        label = vocab[label]
    fmt = glue_format if task.format == "glue" else (lambda t: t)
    if task.input == "pair":
        res = renderer.render_pair(fmt(rec.text), fmt(rec.text_b or ""))
    else:
        res = renderer.render_text(fmt(rec.text))
    if not res.ok:
        return _dead(rec, "empty_text", "nothing left to render") if res.reason == "empty" else _skip(rec, res.reason)
    ids = None
    if tokenizer is not None:
        ids = pair_encoder(tokenizer)(*res.text.split("\n", 1)) if task.input == "pair" else tokenizer.encode(res.text).ids
    return [_sample(rec, res, cfg, encoding, 0, label=label, token_ids=ids)]


def _render_words(rec, renderer, cfg, encoding, task, vocab, tokenizer):
    tags = list(map(vocab.get, rec.tags))
    if None in tags:
        unknown = sorted({t for t in rec.tags if t not in vocab})
        return _dead(rec, "label_not_in_vocabulary", f"{unknown} not in the train split's labels")
    res = renderer.render_words(list(rec.words))
    if not res.ok:
        return _dead(rec, "empty_text", "nothing left to render") if res.reason == "empty" else _skip(rec, res.reason)
    n = len(res.word_starts)
    if n == len(rec.words):  # every word drawn: every syntactic word kept
        keep, word_index = range(len(tags)), list(rec.word_index)
    else:  # the syntactic words of the words drawn
        keep = [i for i, w in enumerate(rec.word_index) if w < n]
        word_index, tags = [rec.word_index[i] for i in keep], [tags[i] for i in keep]
    labels = [[rec.heads[i], t] for i, t in zip(keep, tags)] if task.family == "parsing" else tags
    ids = tokenizer.encode(res.text).ids if tokenizer is not None else None
    return [_sample(rec, res, cfg, encoding, 0, word_starts=res.word_starts, labels=labels,
                    word_index=word_index, token_ids=ids, conllu=rec.conllu or None,
                    conllu_origin=[rec.file.replace("\\", "/").rsplit("/", 1)[-1], rec.line] if rec.conllu else None)]


def _render_qa(rec, renderer, cfg, encoding, tokenizer, stride):
    windows = renderer.render_qa(rec.text, rec.text_b or "", stride=stride)
    if not windows[0].ok:
        if windows[0].reason == "empty":
            return _dead(rec, "empty_text", "nothing left to render")
        return _skip(rec, windows[0].reason)
    answers = {"text": [t for t, _ in rec.answers], "answer_start": [s for _, s in rec.answers]}
    encode = pair_encoder(tokenizer) if tokenizer is not None else None
    out = []
    for i, w in enumerate(windows):
        s0, s1 = w.context_span
        question = w.text[:len(w.text) - (s1 - s0) - 1]
        labels = [-1, -1]
        if rec.answers:
            text, start = rec.answers[0]
            if s0 <= start and start + len(text) <= s1:
                labels = answer_patches(w.offset_mapping, start, start + len(text))
        w.truncated = len(question) < len(rec.text)  # only the question can be cut: windows cover the context
        out.append(_sample(rec, w, cfg, encoding, i, offset_mapping=[list(p) for p in w.offset_mapping],
                           labels=labels, context_span=[s0, s1], answers=answers,
                           token_ids=encode(question, w.text[len(question) + 1:]) if encode else None))
    return out
