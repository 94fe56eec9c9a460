"""Pure: the token side of a task sample (schema 1.2), from the tokenizer's own alignment -- a ``tokenizers``
``Encoding``'s ``char_to_token`` (words) and ``offsets`` / ``sequence_ids`` (QA) -- never re-derived by hand.

* words: per rendered word, the ``[first, end)`` token span of its characters in the drawn text (``word_tokens``);
* QA: per token, the context characters it covers (``token_offsets``, ``[-1, -1]`` outside the context) and the
  answer's first and last token (``token_answer``, the same overlap rule as the patches' ``answer_patches``);
* ``--max_tokens``: token ids cut after N (``tokens_truncated``); a word whose span does not fit loses its span,
  an answer that does not fit is not in the window's tokens.
"""

from __future__ import annotations

from typing import Callable, Sequence

SEP_TOKENS = ("[SEP]", "</s>", "<|endoftext|>", "<sep>")


def sep_id(tok) -> int:
    """The separator of a tokenizer without a post-processor: the first of SEP_TOKENS in its vocabulary."""
    sep = next((tok.token_to_id(t) for t in SEP_TOKENS if tok.token_to_id(t) is not None), None)
    if sep is None:
        raise ValueError(f"--tokenizer has no post-processor and none of {SEP_TOKENS}: cannot encode pairs; "
                         "add a separator special token or a TemplateProcessing post-processor")
    return sep


def pair_encoder(tok) -> Callable[[str, str], list[int]]:
    """Token ids of a pair: the tokenizer's own pair encoding when it has a post-processor (e.g. BERT's
    ``[CLS] A [SEP] B [SEP]``), else A + its separator token + B."""
    if tok.post_processor is not None:
        return lambda a, b: tok.encode(a, b).ids
    sep = sep_id(tok)
    return lambda a, b: tok.encode(a).ids + [sep] + tok.encode(b).ids


def pair_offsets(tok, a: str, b: str, shift: int) -> tuple[list[int], list[list[int]]]:
    """``pair_encoder``'s ids, and per token the characters of ``b`` it covers, plus ``shift`` (``[-1, -1]`` for
    ``a``'s tokens, separators and special tokens): B's offsets as the tokenizer reports them."""
    if tok.post_processor is not None:
        enc = tok.encode(a, b)
        spans = [[s + shift, e + shift] if seq == 1 and e > s else [-1, -1]
                 for seq, (s, e) in zip(enc.sequence_ids, enc.offsets)]
        return enc.ids, spans
    ea, eb = tok.encode(a), tok.encode(b)
    ids = ea.ids + [sep_id(tok)] + eb.ids
    spans = [[-1, -1]] * (len(ea.ids) + 1) + [[s + shift, e + shift] if e > s else [-1, -1] for s, e in eb.offsets]
    return ids, spans


def cut(ids: list[int], max_tokens: int) -> tuple[list[int], bool]:
    """The first ``max_tokens`` ids (0: all) and whether any were cut."""
    if max_tokens and len(ids) > max_tokens:
        return ids[:max_tokens], True
    return ids, False


def word_char_spans(text: str, words: Sequence[str]) -> list[tuple[int, int]] | None:
    """``[start, end)`` of each drawn word in a words strip's ``text`` (the ``len(words)`` drawn words joined by
    one space; the last one may be cut): split at the spaces when that gives one piece per word, else (words with
    spaces inside) by the words' own lengths. None when ``text`` is not laid out that way (never expected: the
    caller dead-letters it)."""
    pieces = text.split(" ")
    lengths = [len(p) for p in pieces] if len(pieces) == len(words) else [len(w.rstrip(" ")) for w in words]
    spans, pos = [], 0
    for i, n in enumerate(lengths):
        end = len(text) if i == len(lengths) - 1 else pos + n
        if end > len(text) or (i < len(lengths) - 1 and text[end:end + 1] != " "):
            return None
        spans.append((pos, end))
        pos = end + 1
    return spans


def word_token_spans(enc, char_spans: list[tuple[int, int]], limit: int) -> list[list[int]] | str:
    """Per word, ``[first, end)`` tokens of its characters (``enc.char_to_token``), up to the first word not wholly
    within ``limit`` tokens; or a dead-letter reason: a word whose characters map to no token (a normalizer
    dropped them all), or two words sharing a token (a tokenizer that merges across spaces)."""
    out: list[list[int]] = []
    for c0, c1 in char_spans:
        first = next((t for c in range(c0, c1) if (t := enc.char_to_token(c)) is not None), None)
        if first is None:
            return "word_without_tokens"
        last = next(t for c in range(c1 - 1, c0 - 1, -1) if (t := enc.char_to_token(c)) is not None)
        if out and first < out[-1][1]:
            return "words_share_a_token"
        if last + 1 > limit:
            break
        out.append([first, last + 1])
    return out
