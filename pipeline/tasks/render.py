"""Pure: a labelled record becomes its task samples (a QA question: one per window), a skip reason, or a dead letter.

Rendering follows PIXEL's finetuning scripts: a sentence, or a pair with a SEP patch (GLUE text cleaned of
spaces before punctuation first, as run_glue.py does for rendered input); words on patch boundaries with
``word_starts`` (POS, NER, parsing); QA as question + SEP + context windows overlapping by ``stride`` patches,
each with its per-patch offset mapping. Every sample also carries the token ids of the text it shows when a
tokenizer is given, cut at ``max_tokens`` (0: all), and the token side of its labels (``tokens.py``: each word's
token span, a QA window's per-token offsets and answer tokens), so text input runs every task family too.
"""

from __future__ import annotations

from pixelkit.schemas import RenderedSample, encode_pixels, make_key

from ..documents import DeadLetter, Skipped
from ..render import RenderConfig, Renderer, RenderResult
from .records import LabelledRecord, TaskDef
from .tokens import SEP_TOKENS, cut, pair_encoder, pair_offsets, word_char_spans, word_token_spans

__all__ = ["SEP_TOKENS", "answer_patches", "glue_format", "pair_encoder", "prefetch_texts", "render_record"]

# run_glue.py's clean-up of GLUE's tokenized text before rendering: the space before punctuation, around quotes
# and brackets, and before "n't" goes (applied in this order).
GLUE_SPACE_FIXES = ((" ,", ","), (" .", "."), (" !", "!"), (" ?", "?"), (" #", "#"), (" /", "/"), (' "', '"'),
                    ('" ', '"'), (" '", "'"), ("' ", "'"), (" n't", "n't"), ("( ", "("), (" )", ")"), ("[ ", "["),
                    (" ]", "]"))


def glue_format(text: str) -> str:
    for old, new in GLUE_SPACE_FIXES:
        text = text.replace(old, new)
    return text


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
                  vocab: dict[str, int], tokenizer=None, stride: int = 0,
                  max_tokens: int = 0, drawn: list[RenderResult] | None = None
                  ) -> list[RenderedSample] | Skipped | DeadLetter:
    """The samples for ``rec``; a snake_case skip reason; or a DeadLetter (label outside the vocabulary, no text,
    a words strip the tokenizer cannot align: ``tokens.word_token_spans``). ``drawn``: a list that gets every
    render made for the record (kept or not; a QA question's windows), for the job's per-source stats."""
    drawn = [] if drawn is None else drawn
    if task.input == "qa":
        return _render_qa(rec, renderer, cfg, encoding, tokenizer, stride, max_tokens, drawn)
    if task.input == "words":
        return _render_words(rec, renderer, cfg, encoding, task, vocab, tokenizer, max_tokens, drawn)
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
    drawn.append(res)
    if not res.ok:
        return _dead(rec, "empty_text", "nothing left to render") if res.reason == "empty" else _skip(rec, res.reason)
    ids, cut_ids = None, False
    if tokenizer is not None:
        ids = pair_encoder(tokenizer)(*res.text.split("\n", 1)) if task.input == "pair" else tokenizer.encode(res.text).ids
        ids, cut_ids = cut(ids, max_tokens)
    return [_sample(rec, res, cfg, encoding, 0, label=label, token_ids=ids, tokens_truncated=cut_ids)]


def _render_words(rec, renderer, cfg, encoding, task, vocab, tokenizer, max_tokens, drawn):
    tags = list(map(vocab.get, rec.tags))
    if None in tags:
        unknown = sorted({t for t in rec.tags if t not in vocab})
        return _dead(rec, "label_not_in_vocabulary", f"{unknown} not in the label vocabulary")
    res = renderer.render_words(list(rec.words))
    drawn.append(res)
    if not res.ok:
        return _dead(rec, "empty_text", "nothing left to render") if res.reason == "empty" else _skip(rec, res.reason)
    n = len(res.word_starts)
    if n == len(rec.words):  # every word drawn: every syntactic word kept
        keep, word_index = range(len(tags)), list(rec.word_index)
    else:  # the syntactic words of the words drawn
        keep = [i for i, w in enumerate(rec.word_index) if w < n]
        word_index, tags = [rec.word_index[i] for i in keep], [tags[i] for i in keep]
    labels = [[rec.heads[i], t] for i, t in zip(keep, tags)] if task.family == "parsing" else tags
    side = {}
    if tokenizer is not None:
        enc = tokenizer.encode(res.text)
        chars = word_char_spans(res.text, rec.words[:n])
        spans = "word_spans_unaligned" if chars is None else word_token_spans(enc, chars, max_tokens or len(enc.ids))
        if isinstance(spans, str):
            return _dead(rec, spans, f"the tokenizer's alignment of {res.text[:200]!r}")
        ids, cut_ids = cut(enc.ids, max_tokens)
        side = dict(token_ids=ids, word_tokens=spans, tokens_truncated=cut_ids)
    return [_sample(rec, res, cfg, encoding, 0, word_starts=res.word_starts, labels=labels,
                    word_index=word_index, conllu=rec.conllu or None,
                    conllu_origin=[rec.file.replace("\\", "/").rsplit("/", 1)[-1], rec.line] if rec.conllu else None,
                    **side)]


def _render_qa(rec, renderer, cfg, encoding, tokenizer, stride, max_tokens, drawn):
    windows = renderer.render_qa(rec.text, rec.text_b or "", stride=stride)
    drawn.extend(windows)
    if not windows[0].ok:
        if windows[0].reason == "empty":
            return _dead(rec, "empty_text", "nothing left to render")
        return _skip(rec, windows[0].reason)
    answers = {"text": [t for t, _ in rec.answers], "answer_start": [s for _, s in rec.answers]}
    out = []
    for i, w in enumerate(windows):
        s0, s1 = w.context_span
        question = w.text[:len(w.text) - (s1 - s0) - 1]
        labels, side = [-1, -1], {}
        inside = bool(rec.answers) and s0 <= rec.answers[0][1] and rec.answers[0][1] + len(rec.answers[0][0]) <= s1
        if inside:
            text, start = rec.answers[0]
            labels = answer_patches(w.offset_mapping, start, start + len(text))
        if tokenizer is not None:
            ids, offsets = pair_offsets(tokenizer, question, w.text[len(question) + 1:], s0)
            ids, cut_ids = cut(ids, max_tokens)
            offsets = offsets[:len(ids)]
            tokens = [-1, -1]
            if inside:
                tokens = answer_patches(offsets, start, start + len(text))  # the same overlap rule, per token
                if cut_ids and max(e for _, e in offsets) < start + len(text):
                    tokens = [-1, -1]  # the answer's end was cut off with the tokens
            side = dict(token_ids=ids, token_offsets=offsets, token_answer=tokens, tokens_truncated=cut_ids)
        w.truncated = len(question) < len(rec.text)  # only the question can be cut: windows cover the context
        out.append(_sample(rec, w, cfg, encoding, i, offset_mapping=[list(p) for p in w.offset_mapping],
                           labels=labels, context_span=[s0, s1], answers=answers, **side))
    return out
