"""Pack a document into chunks that fill the patch budget (pure; the renderer's ``measure`` is passed in).

As PIXEL prerendered its data: line by line, within one document only, measuring rendered widths with the
font and leaving room for the EOS patch. A line wider than a strip is split at sentence boundaries, a
sentence wider than a strip at spaces, and a single unbroken run (a URL, a long compound) between
characters -- text is split across chunks, never clipped.
"""

from __future__ import annotations

import re
from typing import Callable

from .documents import Document, TextChunk

_SENTENCE_END = re.compile(r"(?<=[.!?\u2026\u3002\uff01\uff1f\u0964])\s+")


def _fit_prefix(text: str, measure: Callable[[str], int], budget: int) -> int:
    """Length of the longest prefix of ``text`` that measures within ``budget`` (at least 1)."""
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def pieces(line: str, measure: Callable[[str], int], budget: int) -> list[tuple[str, int]]:
    """``line`` as (text, width) pieces that each fit the budget: the line, else sentences, words, characters."""
    width = measure(line)
    if width <= budget:
        return [(line, width)]
    out: list[tuple[str, int]] = []
    for level, splitter in ((0, _SENTENCE_END), (1, None)):
        parts = splitter.split(line) if splitter else line.split()
        if len(parts) > 1:
            for part in parts:
                out += pieces(part, measure, budget) if level == 0 else _word_pieces(part, measure, budget)
            return out
    return _word_pieces(line, measure, budget)


def _word_pieces(word: str, measure: Callable[[str], int], budget: int) -> list[tuple[str, int]]:
    out = []
    while word:
        w = measure(word)
        if w <= budget:
            out.append((word, w))
            break
        n = _fit_prefix(word, measure, budget)
        out.append((word[:n], measure(word[:n])))
        word = word[n:]
    return out


def chunk_document(doc: Document, measure: Callable[[str], int], budget: int) -> list[TextChunk]:
    """Greedy packing of the document's lines (joined with spaces) into chunks of at most ``budget`` px.

    Widths are summed as an estimate (one layout per line), then each chunk is measured once as a whole;
    if shaping across the joins makes it wider, its last piece moves to the next chunk.
    """
    space = max(1, measure("a a") - measure("aa"))
    queue: list[tuple[str, int]] = []
    for line in doc.text.splitlines():
        line = " ".join(line.split())
        if line:
            queue += pieces(line, measure, budget)
    chunks: list[TextChunk] = []
    cur: list[tuple[str, int]] = []
    est = 0
    i = 0
    while i < len(queue):
        text, w = queue[i]
        add = w if not cur else est + space + w
        if cur and add > budget:
            sentences = _SENTENCE_END.split(text)
            if len(sentences) > 1:  # top up the chunk with the line's first sentences instead of leaving a gap
                queue[i:i + 1] = [(t, measure(t)) for t in sentences]
                continue
            i -= _emit(doc, cur, measure, budget, chunks)
            cur, est = [], 0
            continue
        cur.append((text, w))
        est = add
        i += 1
    while cur:
        back = _emit(doc, cur, measure, budget, chunks)
        cur = cur[len(cur) - back:] if back else []
    return chunks


def _emit(doc: Document, cur: list[tuple[str, int]], measure, budget: int, chunks: list[TextChunk]) -> int:
    """Append the longest head of ``cur`` that really fits as one chunk; return how many pieces were left."""
    n = len(cur)
    while n > 1 and measure(" ".join(t for t, _ in cur[:n])) > budget:
        n -= 1
    chunks.append(TextChunk(doc.source, doc.doc_id, len(chunks), " ".join(t for t, _ in cur[:n])))
    return len(cur) - n
