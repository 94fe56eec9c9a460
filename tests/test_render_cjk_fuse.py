"""``cjkfuse``'s compiled passes give what the numpy code they replaced in ``cjk.CjkWords`` gave (kept here as the
reference, line for line): on strips of the real UDHR in Chinese, Japanese and Korean (../shared/data, the bundled
excerpt otherwise) with the font's real proof table, and on random strings of Han, kana, Hangul, Latin, digits,
brackets of Pango's paired list, combining marks and runs of spaces at either end, with random proof tables."""

from __future__ import annotations

import random
import re
from html import unescape

import numpy as np
import pytest
from conftest import SHARED_DATA

from pixelkit.pipeline.render import RenderConfig
from pixelkit.pipeline.render.pango import cjkfuse
from pixelkit.pipeline.render.pango.cjk import tokens
from pixelkit.pipeline.render.pango.scriptruns import PAIRED, pair_table, runs
from pixelkit.pipeline.render.pango.cjkcheck import verdict as cjk_verdict
from pixelkit.pipeline.render.pango.glyphs import new_glyphs
from pixelkit.pipeline.render.pango.kernels import EMPTY_WORD, FOREIGN_WORD
from pixelkit.pipeline.render.pango.scriptgate import gate

SCRIPT, PAIR = gate().script_u8, pair_table()
_PLANS = [0]  # batches plan made with a token of several characters (both tests: many)


@pytest.fixture(scope="module")
def texts(udhr) -> list[str]:
    """Strips of 20-200 characters of the UDHR in Chinese, Japanese and Korean."""
    out = []
    for lang in ("cmn_hans", "cmn_hant", "jpn", "kor"):
        path = SHARED_DATA / "udhr" / "declaration" / f"{lang}.html"
        if path.is_file():
            raw = path.read_text(encoding="utf-8")
            paras = [unescape(re.sub("<[^>]+>", "", p)) for p in re.findall(r"<p>(.*?)</p>", raw, re.S)]
            text = " ".join(" ".join(p.split()) for p in paras if p.strip())
        elif lang in udhr:
            text = " ".join(udhr[lang]["paragraphs"])
        else:
            continue
        rng = random.Random(lang)
        i = 0
        while i < len(text) and len(out) < 400:
            n = rng.randint(20, 200)
            out.append(text[i:i + n])
            i += n
    assert len(out) > 60
    return out


def _random(rng: random.Random) -> str:
    pools = ["的人权利自由和平等国家社会", "ひらがなカタカナの", "대한민국사람", "Paris UN René", "0123456789.,",
             "".join(map(chr, PAIRED[:40])), "\u0301\u3099", "。、「」（）", "  "]
    s = "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 120)))
    return " " * rng.randint(0, 2) + s + " " * rng.randint(0, 3)


def _proven_real() -> np.ndarray:
    """Per BMP code point 1 when ``cjkcheck`` proved it for the default font (as ``CjkWords._cjk_init`` builds it)."""
    res = cjk_verdict(RenderConfig().font_files()[0])
    assert res is not None and res.eligible
    proven = np.zeros(1 << 16, np.uint8)
    proven[[c for c in res.chars if c < 1 << 16]] = 1
    return proven


def _cps(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), np.uint32).astype(np.int32)


def _ref_cut(cps, proven):
    """``_lookup_cjk`` and ``_cjk_ids`` before ``cjkfuse.cut``."""
    rs = np.empty(len(cps), np.int32)
    runs(cps, SCRIPT, PAIR, rs)
    tok = np.empty((len(cps) + 1, 3), np.int32)
    spaces = np.zeros(len(cps) + 1, np.int32)
    nt = tokens(cps, rs, proven, tok, spaces)
    tok, spaces = tok[:nt], spaces[:nt]
    if spaces[-1]:
        tok = np.vstack([tok, [[len(cps), len(cps), -1]]]).astype(np.int32)
        spaces = np.append(spaces, 0).astype(np.int32)
    ids = np.full(len(tok), -2, np.int32)
    empty = tok[:, 1] == tok[:, 0]
    ids[empty] = EMPTY_WORD
    scripts = set(tok[~empty, 2].tolist())
    real = all(sc > 1 and sc != 61 for sc in scripts)
    return rs, tok, spaces, ids, sorted(scripts), real


def _check_cut(text: str, proven: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    cps = _cps(text)
    n = len(cps)
    rs, tok, spaces = np.full(n, -9, np.int32), np.full((n + 2, 3), -9, np.int32), np.full(n + 2, -9, np.int32)
    ids, present = np.full(n + 2, -9, np.int32), np.zeros(256, np.uint8)
    nt = cjkfuse.cut(cps, SCRIPT, PAIR, proven, rs, tok, spaces, ids, present)
    want_rs, want_tok, want_spaces, want_ids, scripts, real = _ref_cut(cps, proven)
    assert (nt >= 0) == real, text
    assert np.array_equal(rs, want_rs), text
    if not real:
        return None
    assert nt == len(want_tok) and np.array_equal(tok[:nt], want_tok), text
    assert np.array_equal(spaces[:nt], want_spaces), text
    assert np.array_equal(ids[:nt], want_ids), text
    assert np.flatnonzero(present).tolist() == scripts, text
    return cps, rs, tok[:nt], ids[:nt]


def _check_batch_at(cps, rs, tok, ids, rng: np.random.Generator) -> None:
    ids = ids.copy()
    ids[ids == -2] = rng.choice([-2, -1, 5], size=int((ids == -2).sum()))  # some tokens cut already
    at = np.full(len(tok), -9, np.int64)
    own = SCRIPT[cps]
    for s in set(tok[:, 2].tolist()) | {int(rng.integers(0, 200))}:
        k, m = cjkfuse.batch_at(s, rs, SCRIPT, cps, tok, ids, at)
        strong = np.flatnonzero((rs == s) & (own == s))  # (the reference: _cjk_fill before cjkfuse.batch_at)
        if not len(strong):
            assert (k, m) == (-1, 0)
            continue
        assert k == int(np.searchsorted(tok[:, 0], strong[0], side="right")) - 1
        want = np.flatnonzero((tok[:, 2] == s) & (ids < 0))
        assert m == len(want) and np.array_equal(at[:m], want)


def _check_plan(text: str, cps, rs, tok, ids, rng: np.random.Generator) -> int:
    """``cjkfuse.plan`` against ``batch_at``, the plain Python dedup of the missing tokens' texts (what
    ``cjk._distinct`` gave before ``plan`` took every batch over) and the batch text ``_cjk_fill`` / ``_cjk_batch``
    built before it. Returns how many batches held a token of several characters."""
    ids = ids.copy()
    ids[ids == -2] = rng.choice([-2, -1, 5], size=int((ids == -2).sum()))
    nt = len(tok)
    at, codes, inv = np.full(nt, -9, np.int64), np.full(nt, -9, np.int64), np.full(nt, -9, np.int64)
    at2, slot_at = np.full(nt, -9, np.int64), np.full(nt, -9, np.int64)
    buf, scratch = np.zeros(8 * len(cps) + 8, np.uint8), np.full(1 << 16, -1, np.int32)
    multi = 0
    for s in set(tok[:, 2].tolist()) | {int(rng.integers(0, 200))}:
        k, m, n, nbytes = cjkfuse.plan(s, rs, SCRIPT, cps, tok, ids, at, scratch, codes, inv, slot_at, buf)
        assert (k, m) == cjkfuse.batch_at(s, rs, SCRIPT, cps, tok, ids, at2) and np.array_equal(at[:m], at2[:m])
        assert (scratch == -1).all()
        if k < 0:
            continue
        texts = [text[a:b] for a, b in tok[at[:m], :2].tolist()]
        missing = list(dict.fromkeys(texts))
        want = (" ".join([text[tok[k, 0]:tok[k, 1]]] + missing) + " ").encode("utf-8")
        assert nbytes <= 7 * len(cps) + 1 and buf[:nbytes].tobytes() == want
        assert codes[:n].tolist() == [ord(t) if len(t) == 1 else -1 for t in missing]
        assert [missing[j] for j in inv[:m].tolist()] == texts
        assert [texts[i] for i in slot_at[:n].tolist()] == missing
        multi += any(len(t) != 1 for t in missing)
    return multi


def _check_settle(cps, rng: np.random.Generator) -> None:
    n = int(rng.integers(1, 300))
    words = np.zeros((64, 4), np.int32)
    words[:, 2] = rng.integers(-3, 4, size=64)
    st = rng.integers(-1, 64, size=n).astype(np.int32)
    one_cp = np.where(rng.random(n) < 0.8, rng.choice(cps, size=n), -1).astype(np.int64)
    cls = int(rng.integers(0, 4))
    table, want_table = np.full(1 << 16, -1, np.int32), np.full(1 << 16, -1, np.int32)
    got, one = np.full(n, -9, np.int32), np.zeros(n, np.bool_)
    n_good = cjkfuse.settle(st, words, cls, one_cp, table, got, one)
    good = (st > FOREIGN_WORD) & (words[np.maximum(st, 0), 2] == cls)  # (the reference: _cjk_batch before it, but
    want_got = np.where(good, st, FOREIGN_WORD).astype(np.int32)  # every one-character token by code point now,
    want_one = one_cp >= 0  # not the proven ones only: see cjkfuse.settle)
    want_table[one_cp[want_one]] = want_got[want_one]
    assert n_good == int(good.sum())
    assert np.array_equal(got, want_got) and np.array_equal(one, want_one) and np.array_equal(table, want_table)


def _check_new_glyphs(rng: np.random.Generator) -> None:
    """``glyphs.new_glyphs`` against ``Classes._predraw``'s numpy before it."""
    lut = np.where(rng.random(500) < 0.5, -2, rng.integers(-1, 50, size=500)).astype(np.int32)
    item = rng.integers(-3, 520, size=(int(rng.integers(0, 700)), 5)).astype(np.int32)
    before = lut.copy()
    out = np.full(len(item), -9, np.int64)
    n = new_glyphs(item, lut, out)
    g = item[:, 0]  # (pango_abi.GLYPH)
    g = g[(g >= 0) & (g < len(lut))]
    g = g[lut[g] == -2]
    assert out[:n].tolist() == list(dict.fromkeys(g.tolist()))
    assert np.array_equal(lut, before)


def _check_all(text: str, proven: np.ndarray, rng: np.random.Generator) -> bool:
    """Every fused pass against its reference on one strip; False when the strip is not the CJK path's."""
    got = _check_cut(text, proven)
    if got is None:
        return False
    cps, rs, tok, ids = got
    _check_batch_at(cps, rs, tok, ids, rng)
    _PLANS[0] += _check_plan(text, cps, rs, tok, ids, rng)
    _check_settle(cps, rng)
    _check_new_glyphs(rng)
    return True


def test_fused_passes_on_real_cjk_text(texts):
    proven, rng = _proven_real(), np.random.default_rng(0)
    assert proven.sum() > 1000  # (the font's proof: most Han characters)
    checked, _PLANS[0] = 0, 0
    for text in texts:
        checked += _check_all(text, proven, rng)
    assert checked > 60 and _PLANS[0] > 60


def test_fused_passes_on_random_strings():
    rng, nrng = random.Random(12), np.random.default_rng(12)
    _PLANS[0] = 0
    for i in range(1500):
        text = _random(rng)
        proven = (nrng.random(1 << 16) < nrng.random()).astype(np.uint8)
        _check_all(text, proven, nrng)
    assert _PLANS[0] > 300
