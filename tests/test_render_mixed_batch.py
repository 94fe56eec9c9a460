"""``mixbatch.mixed_batch`` (the batch that shapes a mixed strip's new words, two compiled passes) against the plain
Python loop it replaced, on the states a real renderer meets: every call made while rendering random mixtures of
real words of several scripts (with numbers) is made again with the reference, and both give the same batch and the
same words to cut."""

from __future__ import annotations

import numpy as np
from test_render_fastpath_mixed import _mixed_texts

from pixelkit.pipeline.render import RenderConfig, TextRenderer
from pixelkit.pipeline.render.pango import mixbatch, shapecache
from pixelkit.pipeline.render.pango.kernels import FOREIGN_WORD
from pixelkit.pipeline.render.pango.scriptgate import gate


def _reference(words, ids, rows, weak, strong, script, char_codes):
    """mixed_batch as it was: every word through the one general loop, every position through the pieces' loop."""
    n = len(words)
    keep = bytearray(n)
    seen: set[str] = set()
    at = np.array([-1 if i is None else i for i in ids], np.int64)
    row = rows[np.maximum(at, 0)]
    own = ((row[:, 3] != 0) & (at > FOREIGN_WORD)).tolist()
    cached_weak = ((row[:, 3] == 0) & (at > FOREIGN_WORD)).tolist()
    cls = row[:, 2].tolist()
    last, lead = -1, -1
    for k in range(n):
        w = words[k]
        if ids[k] is None:
            has = strong(w) is not None
            cut = w not in seen
            starts_weak = cut and not (w and char_codes[ord(w[0])] & 2)
        else:
            has = own[k]
            cut = starts_weak = cached_weak[k] and w not in seen and (
                last < 0 or ids[last] is None or (w, cls[last]) not in weak)
        if cut:
            seen.add(w)
            keep[k] = 1
            if starts_weak:
                if last >= 0:
                    keep[last:k] = b"\x01" * (k - last)
                elif lead < 0:
                    lead = k
        if has:
            if lead >= 0:
                keep[lead:k + 1] = b"\x01" * (k + 1 - lead)
                lead = -1
            last = k
    segs = []
    for k in range(n):
        if not keep[k]:
            continue
        w = words[k]
        o = ord(w[0]) if w else 0
        if o < 0x10000 and char_codes[o] & 2:
            segs.append((1, script[o], [w]))
        elif segs and keep[k - 1]:
            segs[-1][2].append(w)
        else:
            segs.append((int(k > 0), 0, [w]))
    segs.sort(key=lambda t: t[:2])
    batch = [w for _, _, seg in segs for w in seg]
    return batch, np.array([w in seen for w in batch], np.uint8)


def test_mixed_batches_are_the_reference_loops(udhr, monkeypatch):
    calls = []

    def checked(*args):
        got = mixbatch.mixed_batch(*args)
        g = gate()
        ref = _reference(*args, g.strong, g.script, g.char_codes)
        calls.append(len(args[0]))
        assert got[0] == ref[0] and np.array_equal(got[1], ref[1]), args[0]
        return got

    monkeypatch.setattr(shapecache, "mixed_batch", checked)
    r = TextRenderer(RenderConfig())
    texts = _mixed_texts(udhr, 21, 60)
    for t in texts + texts[::-1]:
        r(t)
    assert len(calls) > 30 and r.cache_stats["composed"] > 40, (len(calls), r.cache_stats)


def test_strong_table_is_the_gates_search():
    """The kernel's per-character table says what ``gate().strong`` (the regex the reference asks) says, on every
    BMP code point but the surrogates."""
    strong = mixbatch.tables()[0]
    g = gate()
    got = [cp for cp in range(0x10000)
           if not 0xD800 <= cp <= 0xDFFF and bool(strong[cp]) != (g.strong(chr(cp)) is not None)]
    assert got == [] and strong.sum() > 1000


def test_a_cached_word_past_the_bmp_is_read_as_the_reference_reads_it():
    """The kernel's tables are per BMP code point: a cached word past it (only the missing words are checked to be
    BMP text) is read as the reference reads it, not past the tables' end."""
    rows = np.array([[0, 0, -1, 0], [0, 0, -3, 0], [2, 7, 0, 2], [3, 9, 0, 0], [4, 8, 1, 2]], np.int32)
    words = ["Москва", "\U0001d400\U0001d401", "1948", "Paris", "новое", "\U0001f600", "2024", "слово"]
    ids = [2, 4, None, 4, None, 3, None, None]
    g = gate()
    got = mixbatch.mixed_batch(words, ids, rows, {})
    ref = _reference(words, ids, rows, {}, g.strong, g.script, g.char_codes)
    assert got[0] == ref[0] and np.array_equal(got[1], ref[1]) and "1948" in got[0]
