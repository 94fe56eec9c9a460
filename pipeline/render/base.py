"""Layouts shared by every backend: single text, text pair, word list and QA windows.

A backend only knows how to draw a run of text at an x offset on a one-line canvas (`_draw`), how wide a run
is (`_measure`), where each character starts (`_char_starts`) and how to hand back the canvas (`_canvas`).
Everything about patches -- where EOS and SEP go, truncation at the budget, word starts, offset mappings,
binary thresholding -- lives here once, with PIXEL's geometry: 2 px left pad, 2 px after a text, the next
black patch on the following patch boundary.
"""

from __future__ import annotations

import abc
import math
import os
import unicodedata
from typing import Sequence

import numpy as np

from .config import RenderConfig
from .result import RenderResult
from .text import has_ink, is_rtl, prepare

_GAP = 2  # px between the end of a text and the patch boundary search (PIXEL's "+ 2")


def _joins(text: str, n: int) -> bool:
    """Whether ``text[n]`` belongs to the cluster before it: a mark, a ZWJ or variation selector, or after a ZWJ."""
    return unicodedata.category(text[n])[0] == "M" or text[n] in "\u200d\ufe0f\ufe0e" or text[n - 1] == "\u200d"


def _cluster_safe(text: str, n: int) -> int:
    """Move a cut point left so it does not split a base from its marks or a ZWJ sequence."""
    while 0 < n < len(text) and _joins(text, n):
        n -= 1
    return n


def _clean_words(words: Sequence, cap: int) -> tuple[list[str], int, bool]:
    """``prepare`` of each word: (cleaned words, characters replaced, any word capped); printable ASCII words
    under the cap (most UD, NER and GLUE text) are taken as they are, in one check."""
    try:
        joined = "".join(words)
    except TypeError:  # bytes among them: decoded below
        joined = None
    if joined is not None and joined.isascii() and joined.isprintable() \
            and (len(joined) <= cap or max(map(len, words)) <= cap):
        return list(words), 0, False
    cleaned, replaced, capped = [], 0, False
    for w in words:
        t, r, cp = prepare(w, cap)
        cleaned.append(t)
        replaced += r
        capped |= cp
    return cleaned, replaced, capped


class Renderer(abc.ABC):
    """``Renderer(cfg)(x)`` renders a str, a (text_a, text_b) tuple or a list of words."""

    def __init__(self, cfg: RenderConfig):
        self.cfg = cfg
        self._pid: int | None = None  # font machinery is built lazily, once per process (fork-safe)

    # Pickle only the config: workers rebuild fonts in their own process.
    def __getstate__(self) -> dict:
        return {"cfg": self.cfg}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["cfg"])

    def _ensure(self) -> None:
        pid = os.getpid()
        if self._pid != pid:
            self._setup()
            self._pid = pid

    # -- backend primitives ---------------------------------------------------------------------------
    @abc.abstractmethod
    def _setup(self) -> None:
        """Load fonts and build the canvas (called once per process)."""

    @abc.abstractmethod
    def _clear(self) -> None:
        """Reset the canvas to white."""

    @abc.abstractmethod
    def _draw(self, text: str, x: int) -> tuple[int, int]:
        """Draw one run starting at pixel ``x``; return (logical width in px, unknown glyph count)."""

    @abc.abstractmethod
    def _measure(self, text: str) -> int:
        """Logical width in px of ``text`` laid out as one run."""

    @abc.abstractmethod
    def _canvas(self) -> np.ndarray:
        """A fresh uint8 copy of the canvas: (H, W) gray or (H, W, 3) rgb, white background."""

    def _set_base_rtl(self, rtl: bool) -> None:
        """Lay runs out with a right-to-left base direction from now on (False: back to the backend's own choice,
        the first strong character). Backends without bidi (PyGame) ignore it."""

    def _unshaped_chars(self) -> int:
        """Characters drawn since the last ``_clear`` that a shaper would have laid out otherwise (a backend without
        one, PyGame: ``text.needs_shaping``); 0 for a backend that shapes."""
        return 0

    def _index_at(self, text: str, x: int) -> int | None:
        """Optional hint: how many characters of ``text`` lie left of pixel ``x`` (None: no hint)."""
        return None

    def _measure_word(self, text: str) -> int:
        """``_measure`` for one word of a word list (a backend may memoize short runs)."""
        return self._measure(text)

    def _draw_word(self, text: str, x: int) -> tuple[int, int]:
        """``_draw`` for one word of a word list at a whole-pixel ``x`` (a backend may memoize short runs)."""
        return self._draw(text, x)

    def _draw_word_list(self, words: list[str], x0: int, limit: int, gap: int):
        """Optional: the whole loop of ``render_words`` at once onto the cleared canvas -- (word starts, x after the
        last word drawn, unknown glyphs, truncated), exactly what the loop gives; None, with nothing drawn: the
        loop draws the list."""
        return None

    def _char_starts(self, text: str) -> list[float]:
        """x (px, from the run's start) where each character begins; the default measures prefixes."""
        return [float(self._measure(text[:i])) for i in range(len(text))]

    # -- public API -----------------------------------------------------------------------------------
    def __call__(self, inp) -> RenderResult:
        if isinstance(inp, (str, bytes)):
            return self.render_text(inp)
        if isinstance(inp, tuple) and len(inp) == 2:
            return self.render_pair(*inp)
        if isinstance(inp, list):
            return self.render_words(inp)
        raise TypeError(f"render a str, a (text_a, text_b) tuple or a list of words, not {type(inp).__name__}")

    def prefetch(self, texts: Sequence[str]) -> None:
        """A hint that these texts come next (a backend with a shaping cache shapes their words in one go);
        never changes a render."""
        self._ensure()
        self._prefetch([prepare(t, len(t))[0] for t in texts])  # cleaned as a render would, but not capped

    def _prefetch(self, texts: list[str]) -> None:
        """Backend hook for ``prefetch`` (default: nothing to do)."""

    def measure(self, text: str) -> int:
        """Width in px that ``text`` takes, for packing chunks to the budget."""
        self._ensure()
        return self._measure(prepare(text, self.cfg.char_cap)[0])

    @property
    def text_budget(self) -> int:
        """Widest single text (px) that still leaves room for the EOS patch."""
        c = self.cfg
        return (c.max_patches - 1) * c.pixels_per_patch - c.pad_left - _GAP

    def render_text(self, text: str | bytes) -> RenderResult:
        self._ensure()
        c = self.cfg
        text, replaced, capped = prepare(text, c.char_cap)
        if not has_ink(text):  # nothing but spaces, zero-width and format characters: a blank strip
            return RenderResult.failed("empty", text, replaced)
        text, cut = self._fit(text, self.text_budget)
        if not text:
            return RenderResult.failed("too_wide", text, replaced)
        self._clear()
        width, unknown = self._draw(text, c.pad_left)
        eos = self._next_patch(c.pad_left + width + _GAP)
        return RenderResult(
            pixels=self._finish([eos]), num_patches=eos, text=text, sep_patches=[eos],
            unknown_glyphs=unknown, truncated=cut or capped, replaced_chars=replaced,
            unshaped_chars=self._unshaped_chars(),
        )

    def render_pair(self, text_a: str | bytes, text_b: str | bytes) -> RenderResult:
        """text_a, a black SEP patch, text_b, the EOS patch (PIXEL's sentence-pair layout)."""
        self._ensure()
        c = self.cfg
        ppp = c.pixels_per_patch
        a, rep_a, cap_a = prepare(text_a, c.char_cap)
        b, rep_b, cap_b = prepare(text_b, c.char_cap)
        replaced = rep_a + rep_b
        ink_a, ink_b, both = has_ink(a), has_ink(b), a + "\n" + b
        if not ink_a and not ink_b:
            return RenderResult.failed("empty", both, replaced)
        # As PIXEL: when both texts are right-to-left by its vote, both runs get a right-to-left base direction
        # (this moves e.g. a leading Latin word to the right end of an Arabic run); otherwise each run's first
        # strong character decides.
        self._set_base_rtl(is_rtl(a) and is_rtl(b))
        try:
            # text_a may take at most half the strip when the pair does not fit; text_b gets the rest.
            a, cut_a = self._fit(a, ((c.max_patches - 2) // 2) * ppp - c.pad_left - _GAP)
            if ink_a and not a:  # its first character cluster is wider than half the strip: nothing of it fits
                return RenderResult.failed("too_wide", both, replaced)
            self._clear()
            wa, unk_a = self._draw(a, c.pad_left)
            sep = self._next_patch(c.pad_left + wa + _GAP)
            xb = (sep + 1) * ppp + c.pad_left
            b, cut_b = self._fit(b, (c.max_patches - 1) * ppp - xb - _GAP)
            if ink_b and not b:
                return RenderResult.failed("too_wide", both, replaced)
            wb, unk_b = self._draw(b, xb)
        finally:
            self._set_base_rtl(False)
        eos = self._next_patch(xb + wb + _GAP)
        return RenderResult(
            pixels=self._finish([sep, eos]), num_patches=eos, text=a + "\n" + b, sep_patches=[sep, eos],
            unknown_glyphs=unk_a + unk_b, truncated=cut_a or cut_b or cap_a or cap_b, replaced_chars=replaced,
            unshaped_chars=self._unshaped_chars(),
        )

    def render_words(self, words: Sequence[str]) -> RenderResult:
        """Each word starts on a patch boundary (PIXEL's layout for POS, NER and parsing).

        Words that do not fit are dropped from the end (``truncated``); ``word_starts`` then lists only the
        words drawn, so ``len(word_starts)`` tells how many labels the strip carries.
        """
        self._ensure()
        c = self.cfg
        ppp = c.pixels_per_patch
        if not isinstance(words, (list, tuple)) or not words:
            return RenderResult.failed("empty", "")
        cleaned, replaced, capped = _clean_words(words, c.char_cap)
        if not has_ink("".join(cleaned)):  # no word holds anything but white space, zero-width or format characters
            return RenderResult.failed("empty", " ".join(cleaned), replaced)
        self._clear()
        last_patch = c.max_patches - 1
        limit = last_patch * ppp  # the EOS patch must start at or before this pixel
        fast = None if capped else self._draw_word_list(cleaned, c.pad_left, limit, _GAP)  # capped: the loop's case
        if fast is not None:
            starts, x, unknown, truncated = fast
            n = len(starts)
            text = " ".join([w.rstrip(" ") for w in cleaned[:n - 1]]
                            + [cleaned[n - 1] if n == len(cleaned) else cleaned[n - 1].rstrip(" ")])
            eos = x // ppp
            return RenderResult(
                pixels=self._finish([eos]), num_patches=eos, text=text, sep_patches=[eos], unknown_glyphs=unknown,
                truncated=truncated, replaced_chars=replaced, word_starts=starts, unshaped_chars=self._unshaped_chars())
        self._prefetch([" ".join(cleaned)])  # a shaping cache shapes the sentence's new words in one batch
        x, starts, unknown, drawn, truncated = c.pad_left, [], 0, [], capped
        for i, word in enumerate(cleaned):
            last = i == len(cleaned) - 1
            run = word if last else word + " "
            room = limit - x - _GAP
            width = self._measure_word(run)
            if width > room:
                truncated = True
                if starts:  # the word would not fit: stop before it
                    break
                run, _ = self._fit(run, room)  # a first word wider than the strip is cut
                if not run:
                    return RenderResult.failed("too_wide", word, replaced)
            starts.append(x // ppp)
            width, unk = self._draw_word(run, x)
            unknown += unk
            drawn.append(run.rstrip(" ") if not last else run)
            end = x + width + (_GAP if last or truncated else 0)
            x = min(math.ceil(end / ppp), last_patch) * ppp  # self._next_patch(end), inlined
            if truncated:
                break
        eos = x // ppp
        return RenderResult(
            pixels=self._finish([eos]), num_patches=eos, text=" ".join(drawn), sep_patches=[eos],
            unknown_glyphs=unknown, truncated=truncated, replaced_chars=replaced, word_starts=starts,
            unshaped_chars=self._unshaped_chars(),
        )

    def render_qa(self, question: str | bytes, context: str | bytes, stride: int = 0) -> list[RenderResult]:
        """Question, SEP, a window of the context, EOS -- as many windows as the context needs.

        Consecutive windows overlap by ``stride`` patches of context. Each window's ``offset_mapping`` has one
        ``(start, end)`` pair per patch: the context characters drawn in that patch, as offsets into the whole
        (sanitised, length-preserved) context; ``(-1, -1)`` for question, SEP, EOS and padding patches.
        ``context_span``: the window's context range. ``reason="question_too_long_for_stride"``: see _qa_windows.
        """
        self._ensure()
        c = self.cfg
        q, rep_q, _ = prepare(question, c.char_cap)
        ctx, rep_c = prepare(context, len(context) + 1)[:2]  # the whole context; windows cap themselves
        if not has_ink(ctx):
            return [RenderResult.failed("empty", q + "\n" + ctx, rep_q + rep_c)]
        self._set_base_rtl(is_rtl(q) and is_rtl(ctx))  # PIXEL renders QA as a pair: same direction rule
        try:
            return self._qa_windows(q, ctx, stride, rep_q + rep_c)
        finally:
            self._set_base_rtl(False)

    def _qa_windows(self, q: str, ctx: str, stride: int, replaced: int) -> list[RenderResult]:
        c, q0 = self.cfg, q
        ppp = c.pixels_per_patch
        q, cut_q = self._fit(q, ((c.max_patches - 2) // 2) * ppp - c.pad_left - _GAP)
        if not q and has_ink(q0):  # the question's first character cluster is wider than half the strip
            return [RenderResult.failed("too_wide", q0 + "\n" + ctx, replaced)]
        windows: list[RenderResult] = []
        start = len(ctx) - len(ctx.lstrip())
        end_of_text = len(ctx.rstrip())
        while start < end_of_text:
            self._clear()
            wq, unk_q = self._draw(q, c.pad_left)
            sep = self._next_patch(c.pad_left + wq + _GAP)
            x0 = (sep + 1) * ppp + c.pad_left
            room = (c.max_patches - 1) * ppp - x0 - _GAP
            piece, cut = self._fit(ctx[start:start + c.char_cap], room)
            if not piece:
                if not windows:
                    return [RenderResult.failed("too_wide", q + "\n" + ctx, replaced)]
                break
            wc, unk_c = self._draw(piece, x0)
            # stopped short: before a cluster no window holds? (windows repeated up to it; the rest was never drawn)
            if cut and 2 * wc < room and self._too_wide_at(ctx, start + len(piece), room):
                return [RenderResult.failed("too_wide", q + "\n" + ctx, replaced)]
            eos = self._next_patch(x0 + wc + _GAP)
            patch_of = [min(max(int((x0 + x) // ppp), sep + 1), eos - 1) for x in self._char_starts(piece)]
            mapping = [(-1, -1)] * c.max_patches
            for i, p in enumerate(patch_of):
                s, e = mapping[p]
                mapping[p] = (start + i if s < 0 else min(s, start + i), max(e, start + i + 1))
            for p in range(sep + 2, eos):  # a patch covered by a glyph that began in the previous one
                if mapping[p] == (-1, -1) and p * ppp < x0 + wc:
                    mapping[p] = mapping[p - 1]
            windows.append(RenderResult(
                pixels=self._finish([sep, eos]), num_patches=eos, text=q + "\n" + piece, sep_patches=[sep, eos],
                unknown_glyphs=unk_q + unk_c, truncated=cut_q or start + len(piece) < end_of_text,
                replaced_chars=replaced, offset_mapping=mapping, context_span=(start, start + len(piece)),
                unshaped_chars=self._unshaped_chars(),
            ))
            nxt = start + len(piece)
            if nxt >= end_of_text:
                break
            # restart at the first character drawn in the last `stride` context patches; a question leaving no
            # more (clamped, windows went one patch at a time): the record fails, as Hugging Face refuses it
            if stride >= eos - sep - 1:
                return [RenderResult.failed("question_too_long_for_stride", q + "\n" + ctx, replaced)]
            if stride > 0:
                overlap = [start + i for i, p in enumerate(patch_of) if p >= eos - stride]
                if overlap and _cluster_safe(ctx, min(overlap)) > start:
                    nxt = _cluster_safe(ctx, min(overlap))
            while nxt < end_of_text and ctx[nxt] == " ":
                nxt += 1
            start = nxt
        return windows

    # -- helpers --------------------------------------------------------------------------------------
    def _too_wide_at(self, text: str, i: int, room: int) -> bool:
        """Whether the character cluster at ``text[i]`` (after spaces) alone is wider than ``room`` px."""
        i = len(text) - len(text[i:].lstrip(" "))
        n = i + 1
        while n < len(text) and _joins(text, n):
            n += 1
        return i < len(text) and self._measure(text[i:n]) > room

    def _next_patch(self, px: float) -> int:
        """Index of the first patch boundary at or after pixel ``px`` (PIXEL's _get_offset_to_next_patch)."""
        return min(math.ceil(px / self.cfg.pixels_per_patch), self.cfg.max_patches - 1)

    def _fit(self, text: str, budget: int) -> tuple[str, bool]:
        """The longest prefix of ``text`` (cut between clusters, trailing spaces dropped) at most ``budget`` px."""
        if budget <= 0:
            return "", bool(text)
        width = self._measure(text)
        if width <= budget:
            return text, False
        hint = self._index_at(text, budget)
        if hint is not None and 0 < hint < len(text):  # usually exact: confirm with two layouts
            if self._measure(text[:hint + 1]) > budget >= self._measure(text[:hint]):  # last layout is reused
                n = _cluster_safe(text, hint)
                return text[:n].rstrip(), True
        # Bracket the cut from the average advance, then bisect: a handful of layouts, even for huge input.
        guess = max(1, int(len(text) * budget / width))
        lo, hi = 0, len(text)
        probe = min(len(text) - 1, guess + guess // 8 + 8)
        if self._measure(text[:probe]) > budget:
            hi = probe
        else:
            lo = probe
        probe = max(0, guess - guess // 8 - 8)
        if probe > lo and self._measure(text[:probe]) <= budget:
            lo = probe
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._measure(text[:mid]) <= budget:
                lo = mid
            else:
                hi = mid
        n = _cluster_safe(text, lo)
        return text[:n].rstrip(), True

    def _finish(self, black: Sequence[int]) -> np.ndarray:
        """Paint the black patches, then convert to the configured mode."""
        c = self.cfg
        img = self._canvas()
        ppp = c.pixels_per_patch
        for p in black:
            img[:, p * ppp:(p + 1) * ppp] = 0
        if c.mode == "binary":
            img = (img >= c.binary_threshold).astype(np.uint8)
        return img
