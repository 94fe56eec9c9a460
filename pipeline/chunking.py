"""Pack a document into chunks that fill the patch budget (pure; the renderer's ``measure`` is passed in).

As PIXEL prerendered its data: line by line, within one document only, measuring rendered widths with the
font and leaving room for the EOS patch. A line wider than a strip is split at sentence boundaries, a
sentence wider than a strip at spaces, and a single unbroken run (a URL, a long compound, a line of a script
written without spaces) between characters, where a new character cluster starts (not before a combining mark,
inside a conjunct, an emoji sequence or a flag) -- text is split across chunks, never clipped. A single character
cluster wider than a strip (a 1,000-emoji ZWJ sequence, a letter under 2,000 combining marks drawn as boxes) cannot
be split without drawing half a cluster: it becomes a chunk of its own, wider than the budget, which the render
step skips as ``too_wide`` (counted; the text before and after it is chunked as usual).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable

from .documents import Document, TextChunk
from .render.text import has_ink

_SENTENCE_END = re.compile(r"(?<=[.!?\u2026\u3002\uff01\uff1f\u0964])\s+")


_ZWJ, _ZWNJ = "\u200d", "\u200c"


def _joins(text: str, i: int) -> bool:
    """Whether ``text[i]`` belongs to the character cluster before it (a cut there would leave a mark on a dotted
    circle, split a conjunct, an emoji ZWJ sequence, a skin-tone modifier or a flag): a combining mark (variation
    selectors included), ZWJ/ZWNJ, an emoji modifier or tag, anything after ZWJ or a virama, a flag's second half."""
    ch, prev = text[i], text[i - 1]
    if unicodedata.category(ch) in ("Mn", "Mc", "Me") or ch in (_ZWJ, _ZWNJ) or "\U0001f3fb" <= ch <= "\U0001f3ff" \
            or "\U000e0020" <= ch <= "\U000e007f":  # emoji tag sequences (the flag of England)
        return True
    if prev == _ZWJ or unicodedata.combining(prev) == 9:  # 9: the virama class
        return True
    if "\U0001f1e6" <= ch <= "\U0001f1ff":  # regional indicators pair up from the start of their run
        k = i
        while k > 0 and "\U0001f1e6" <= text[k - 1] <= "\U0001f1ff":
            k -= 1
        return (i - k) % 2 == 1
    return False


def _fit_prefix(text: str, measure: Callable[[str], int], budget: int) -> int:
    """Length of the longest prefix of ``text`` that measures within ``budget`` and ends where a character cluster
    does; when the first cluster alone is wider than the budget, that cluster's length (never a cut inside it).
    A first cluster of more than 64 characters (thousands of marks on one letter) is measured whole first: a
    layout of one cluster costs HarfBuzz time quadratic in its length (33,000 marks: seconds), so no bisection."""
    first = 1
    while first < len(text) and _joins(text, first):
        first += 1
    if first > 64 and measure(text[:first]) > budget:
        return first
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    n = lo
    while 0 < n < len(text) and _joins(text, n):
        n -= 1
    if n:
        return n
    n = lo + 1  # the first cluster is wider than the budget: the whole of it, to be skipped as too wide
    while n < len(text) and _joins(text, n):
        n += 1
    return n


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
    """``word`` cut between character clusters into pieces that fit, but for a cluster wider than the budget."""
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


def chunk_document(doc: Document, measure: Callable[[str], int], budget: int, max_chars: int = 0) -> list[TextChunk]:
    """Greedy packing of the document's lines (joined with spaces) into chunks of at most ``budget`` px.

    Widths are summed as an estimate (one layout per line), then each chunk is measured once as a whole;
    if shaping across the joins makes it wider, its last piece moves to the next chunk. ``max_chars``: the
    renderer's character cap (``RenderConfig.char_cap``; 0: none) -- a text longer than it counts as too wide
    whatever it measures, since the renderer would cut it (a run of zero-width characters measures ~0 px).
    """
    if max_chars:
        measure = _within(measure, budget, max_chars)
    space = max(1, measure("a a") - measure("aa"))
    queue: list[tuple[str, int]] = []
    for line in doc.text.splitlines():
        line = " ".join(line.split())
        if has_ink(line):  # a line of zero-width characters only would be a blank strip (or a blank stretch)
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


def _within(measure: Callable[[str], int], budget: int, max_chars: int) -> Callable[[str], int]:
    return lambda text: budget + 1 if len(text) > max_chars else measure(text)


def _emit(doc: Document, cur: list[tuple[str, int]], measure, budget: int, chunks: list[TextChunk]) -> int:
    """Append the longest head of ``cur`` that really fits as one chunk; return how many pieces were left."""
    n = len(cur)
    while n > 1 and measure(" ".join(t for t, _ in cur[:n])) > budget:
        n -= 1
    chunks.append(TextChunk(doc.source, doc.doc_id, len(chunks), " ".join(t for t, _ in cur[:n])))
    return len(cur) - n
