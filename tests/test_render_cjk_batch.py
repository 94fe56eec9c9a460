"""The batches that shape a CJK strip's new tokens (``cjkfuse.plan``, ``CjkWords._cjk_batch``):
every batch a renderer makes over real Chinese and Japanese strips with Latin names and numbers is the one the
plain Python dedup gave (``[anchor] + list(dict.fromkeys(token texts))``, each token's code point when it is one
character, else -1), each token's ids are written from its batch entry (the ids a second look-up finds), no token is shaped twice in a
class on a first pass, and every strip has Pango's pixels."""

from __future__ import annotations

import re

import numpy as np
from test_render_cjk import cjk_text  # noqa: F401  (fixture)

from pixelkit.pipeline.render import RenderConfig, TextRenderer
from pixelkit.pipeline.render.pango import cjk, cjkfuse

NAMES = ("Eleanor Roosevelt", "UN", "Paris", "René Cassin", "P. C. Chang", "Charles Malik", "1948", "10.12",
         "A/RES/217")


def _mixed(text: str, n: int) -> list[str]:
    """Strips of ``text``'s sentences, each followed by a name or number (as a Latin name stands in CJK prose)."""
    sents = [s for s in re.split("(?<=[。；])", text) if s]
    out = [f"{s} {NAMES[i % len(NAMES)]} {1948 + i}" for i, s in enumerate(sents)]
    joined = " ".join(out)
    return [joined[i:i + 300] for i in range(0, min(len(joined), 300 * n), 300)]


def test_cjk_batches_are_the_plain_dedup_and_shape_each_token_once(cjk_text, monkeypatch):  # noqa: F811
    calls, planned, shaped = [], [], {}
    real_plan, real_batch = cjkfuse.plan, cjk.CjkWords._cjk_batch

    def plan(s, rs, script, cps, tok, ids, at, scratch, codes, inv, slot_at, buf):
        got = real_plan(s, rs, script, cps, tok, ids, at, scratch, codes, inv, slot_at, buf)
        k, m, n, nbytes = got
        assert (scratch == -1).all()
        if k >= 0:
            text = "".join(map(chr, cps.tolist()))
            texts = [text[a:b] for a, b in tok[at[:m], :2].tolist()]
            ref = list(dict.fromkeys(texts))
            assert buf[:nbytes].tobytes().decode("utf-8").split(" ")[1:-1] == ref, text
            assert codes[:n].tolist() == [ord(t) if len(t) == 1 else -1 for t in ref], text
            assert [ref[i] for i in inv[:m].tolist()] == texts  # each token's distinct one: its ids come from there
            if any(len(t) != 1 for t in ref):
                calls.append(len(ref))
        return got

    def batch(self, s, toks, one_cp, data=None, texts=None):
        if toks is None:  # cjkfuse.plan's batch: its bytes, distinct tokens
            made = data.decode("utf-8").split(" ")
            assert made[-1] == "" and len(made) == len(one_cp) + 2 and "" not in made[:-1]
            assert [ord(t) if len(t) == 1 else -1 for t in made[1:-1]] == one_cp.tolist()
            assert len(set(made[1:-1])) == len(one_cp) and texts == [t for t in made[1:-1] if len(t) != 1]
            planned.append(len(one_cp))
            toks_seen = made[1:-1]
        else:
            toks_seen = toks[1:]
        seen = shaped.setdefault(s, set())
        assert not seen & set(toks_seen), sorted(seen & set(toks_seen))[:5]  # (the anchor is a known token)
        seen.update(toks_seen)
        return real_batch(self, s, toks, one_cp, data, texts)

    def lookup(self, text):
        found = real_lookup(self, text)
        again = real_lookup(self, text)  # every token known now: its ids straight from the tables
        assert (found is None) == (again is None) and (found is None or np.array_equal(found[0], again[0])), text
        return found

    real_lookup = cjk.CjkWords._lookup_cjk
    monkeypatch.setenv("PIXELKIT_CJK_GLYPHS", "0")  # (Pango's batches: the glyph path, cjkglyph.py, writes most)
    monkeypatch.setattr(cjk.CjkWords, "_lookup_cjk", lookup)
    monkeypatch.setattr(cjkfuse, "plan", plan)
    monkeypatch.setattr(cjk.CjkWords, "_cjk_batch", batch)
    fast, slow = TextRenderer(RenderConfig()), TextRenderer(RenderConfig(), shape_cache=False)
    strips = [s for lang in sorted(cjk_text) for s in _mixed(cjk_text[lang], 12)]
    for t in strips:
        assert np.array_equal(fast(t).pixels, slow(t).pixels), t
    assert len(calls) > 20 and len(planned) > 20 and max(planned) > 50, (len(calls), len(planned))
    assert fast.cache_stats["composed"] >= len(strips) // 2, fast.cache_stats
