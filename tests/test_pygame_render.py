"""The pygame.freetype renderer on real text: geometry, crisp binary PIXAR strips, clipping, tofu, determinism."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import pickle

import numpy as np
import pytest
from conftest import hang_guard

from pixelkit.pipeline.render import RenderConfig, TextRenderer, preset

# WikiText-2 (CC BY-SA 3.0): wiki.test.raw, lines 5-8 (the Robert Boulter article), whitespace as in the file.
WIKI = [
    "Robert Boulter is an English film , television and theatre actor . He had a guest @-@ starring role on the "
    "television series The Bill in 2000 . This was followed by a starring role in the play Herons written by Simon "
    "Stephens , which was performed in 2001 at the Royal Court Theatre .",
    "In 2006 , Boulter starred alongside Whishaw in the play Citizenship written by Mark Ravenhill . He appeared on "
    "a 2006 episode of the television series , Doctors , followed by a role in the 2007 theatre production of How to "
    "Curse directed by Josie Rourke . How to Curse was performed at Bush Theatre in the London Borough of Hammersmith "
    "and Fulham .",
    "In 2000 Boulter had a guest @-@ starring role on the television series The Bill ; he portrayed \" Scott Parry \" "
    "in the episode , \" In Safe Hands \" . Boulter starred as \" Scott \" in the play Herons written by Simon "
    "Stephens , which was performed in 2001 at the Royal Court Theatre .",
    "He had a recurring role in 2003 on two episodes of The Bill , as character \" Connor Price \" . In 2004 Boulter "
    "landed a role as \" Craig \" in the episode \" Teddy 's Story \" of the television series The Long Firm ; he "
    "starred alongside actors Mark Strong and Derek Jacobi .",
]
LONG = " ".join(WIKI * 4)  # ~3.3k characters: wider than either strip


@pytest.fixture(scope="module")
def gray():
    return TextRenderer(RenderConfig(backend="pygame"))


@pytest.fixture(scope="module")
def pixar():
    return TextRenderer(preset("pixar"))


def patch(img: np.ndarray, i: int, ppp: int) -> np.ndarray:
    return img[:, i * ppp:(i + 1) * ppp]


def draw(r, text: str) -> np.ndarray:
    """The renderer's own canvas after drawing one run at the left pad (gray levels, before thresholding)."""
    r._ensure()
    r._clear()
    r._draw(text, r.cfg.pad_left)
    return r._canvas()



@pytest.mark.parametrize("name", ["gray", "pixar"])
def test_shape_eos_and_growth(name, request):
    r = request.getfixturevalue(name)
    ppp, shape = (16, (16, 8464)) if name == "gray" else (8, (8, 4232))
    last = -1
    for n in (12, 60, 180, 400, 700):
        res = r(WIKI[1][:n] if n < len(WIKI[1]) else " ".join(WIKI)[:n])
        assert res.ok and not res.truncated and res.unknown_glyphs == 0
        img = res.pixels
        assert img.shape == shape and img.dtype == np.uint8
        assert res.sep_patches == [res.num_patches]
        assert (patch(img, res.num_patches, ppp) == 0).all(), "EOS patch must be black"
        blank = 255 if name == "gray" else 1
        assert (img[:, (res.num_patches + 1) * ppp:] == blank).all(), "everything after EOS is blank"
        assert (img[:, res.num_patches * ppp - ppp:res.num_patches * ppp] != blank).any() or \
               (img[:, res.num_patches * ppp - 2 * ppp:res.num_patches * ppp - ppp] != blank).any()
        assert res.num_patches > last
        last = res.num_patches
    if name == "pixar":
        assert set(np.unique(img).tolist()) == {0, 1}


def test_overflow_truncated_before_eos(gray, pixar):
    for r, ppp in ((gray, 16), (pixar, 8)):
        res = r(LONG)
        assert res.ok and res.truncated and res.num_patches == 528
        assert LONG.startswith(res.text) and len(res.text) < len(LONG)
        assert (patch(res.pixels, 528, ppp) == 0).all()
        ink = res.pixels < (128 if ppp == 16 else 1)
        assert ink[:, 520 * ppp:528 * ppp].any(), "text runs up to the EOS patch"


def test_binary_pixar_is_crisp(pixar):
    canvas = draw(pixar, WIKI[0])
    assert set(np.unique(canvas).tolist()) == {0, 255}, "antialiasing must be off for binary renders"
    res = pixar(WIKI[0])
    text_cols = res.num_patches * 8
    for t in (1, 64, 128, 200, 255):  # any threshold gives the same strip: there are no gray levels to decide
        assert (res.pixels[:, :text_cols] == (canvas[:, :text_cols] >= t)).all()
    for t in (1, 255):
        assert (TextRenderer(pixar.cfg.replace(binary_threshold=t))(WIKI[0]).pixels == res.pixels).all()


def test_gray_antialias_switch(gray):
    assert len(np.unique(draw(gray, WIKI[0]))) > 16, "gray renders are antialiased by default"
    crisp = TextRenderer(RenderConfig(backend="pygame", antialias=False))
    assert set(np.unique(draw(crisp, WIKI[0])).tolist()) == {0, 255}


def test_gray_glyphs_are_not_clipped(gray):
    """The 16 px strip holds every row of ink the same run has on a 48 px canvas (ascenders, descenders)."""
    tall = TextRenderer(RenderConfig(backend="pygame", pixels_per_patch=48, max_patches=200))
    for text in WIKI:
        strip, big = 255 - draw(gray, text).astype(np.int64), 255 - draw(tall, text).astype(np.int64)
        assert strip.sum() == big.sum() > 0
        assert (strip.sum(0) == big.sum(0)[:strip.shape[1]]).all()  # same ink in every column
    rows = (255 - draw(gray, " ".join(WIKI)).astype(int)).sum(1)
    assert rows[0] == 0, "a blank row above the capitals"
    assert rows[12:].sum() > 0, "descenders are drawn"


def test_pixar_keeps_caps_and_cuts_only_descender_tails(pixar):
    """PixeloidSans at 8.9 px spans 9 rows (7 above the baseline, 2 below): the strip keeps the top 8."""
    tall = TextRenderer(preset("pixar", pixels_per_patch=32, max_patches=200))
    text = WIKI[0]
    strip, big = draw(pixar, text) < 128, draw(tall, text) < 128
    rows = np.flatnonzero(big.any(1))
    assert len(rows) == 9
    top = rows[0]
    assert (strip == big[top:top + 8, :strip.shape[1]]).all(), "caps, ascenders and x-height kept whole"
    assert strip[0].any() and strip[7].any()  # the placement uses the full height
    lost = big[top + 8:].sum()
    assert 0 < lost < 0.02 * big.sum()
    # Without g/p/q/y nothing at all is cut.
    plain = text.translate(str.maketrans("", "", "gjpqy"))
    assert (draw(pixar, plain) < 128).sum() == (draw(tall, plain) < 128).sum()


def test_measure_matches_pygame_pen(gray, pixar):
    """Drawing word by word at x + measure(prefix) is pixel-identical to drawing the sentence in one run."""
    tofu = WIKI[3].replace(" Craig ", " Cr\ue000ig ").replace(" Teddy ", " \U000f0001Teddy\ue001 ")
    for r in (gray, pixar):
        for text in (WIKI[3], tofu):  # .notdef boxes must advance the pen by what _measure says
            whole = draw(r, text)
            r._clear()
            x = r.cfg.pad_left
            for word in text.split(" "):
                r._draw(word + " ", x)
                x += r._measure(word + " ")
            assert (r._canvas() == whole).all()
        starts = r._char_starts(WIKI[3])
        assert starts[0] == 0 and all(b >= a for a, b in zip(starts, starts[1:]))
        assert starts[-1] == r._measure(WIKI[3][:-1])
        assert r._measure(tofu) > r._measure(WIKI[3])


@pytest.mark.parametrize("name", ["gray", "pixar"])
def test_word_starts(name, request):
    r = request.getfixturevalue(name)
    ppp = r.cfg.pixels_per_patch
    words = WIKI[2].split(" ")[:30]
    res = r(words)
    assert res.ok and not res.truncated and len(res.word_starts) == len(words)
    assert res.word_starts[0] == 0 and all(b > a for a, b in zip(res.word_starts, res.word_starts[1:]))
    assert res.word_starts[-1] < res.num_patches == res.sep_patches[0]
    blank = 255 if name == "gray" else 1
    for s in res.word_starts:  # each word's ink begins in its own patch, right at the boundary
        assert (res.pixels[:, s * ppp:s * ppp + ppp // 2 + 4] != blank).any()
        assert s == 0 or (res.pixels[:, s * ppp - 1] == blank).all()


def test_unknown_glyphs(gray, pixar):
    for r in (gray, pixar):
        assert r(WIKI[1]).unknown_glyphs == 0
        res = r("Boulter \ue000 starred")
        assert res.ok and res.unknown_glyphs == 1
        assert r("\ue000\U000f0001" + WIKI[0][:40]).unknown_glyphs == 2
        assert r("a\u200db\u00adc\ufe0f").unknown_glyphs == 0  # default-ignorables are invisible, not tofu
    assert gray("Тhе Воulter (Cyrillic)").unknown_glyphs == 0
    assert pixar("演员 Boulter").unknown_glyphs == 2


def test_fallback_fonts():
    cjk = "演员 Robert Boulter"
    plain = TextRenderer(preset("pixar"))
    fb = TextRenderer(preset("pixar", fallback_fonts=("GoNotoCurrent.ttf",)))
    assert plain(cjk).unknown_glyphs == 2 and fb(cjk).unknown_glyphs == 0
    assert (fb(WIKI[0]).pixels == plain(WIKI[0]).pixels).all()  # Latin still comes from the primary font
    with pytest.warns(UserWarning, match="bitmap-only"):
        r = TextRenderer(RenderConfig(backend="pygame", fallback_fonts=("NotoColorEmoji.ttf",)))
        assert r("pizza \U0001F355").unknown_glyphs == 1


def test_deterministic_no_stale_ink_and_picklable(gray, pixar):
    for r in (gray, pixar):
        a = r(WIKI[0]).pixels.tobytes()
        r(LONG)  # a full strip in between must leave nothing behind
        assert r(WIKI[0]).pixels.tobytes() == a
        clone = pickle.loads(pickle.dumps(r))
        assert clone(WIKI[0]).pixels.tobytes() == a
        assert r((WIKI[0], WIKI[1])).pixels.tobytes() == clone((WIKI[0], WIKI[1])).pixels.tobytes()


def _digest(r, text) -> str:
    return hashlib.sha256(r(text).pixels.tobytes()).hexdigest()


def test_fork_child_renders_the_same(gray, pixar):
    ctx = mp.get_context("fork")
    for r in (gray, pixar):
        parent = _digest(r, WIKI[2])  # set up in this process first: the child must rebuild, not reuse
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=lambda: send.send(_digest(r, WIKI[2])))
        proc.start()
        assert recv.poll(30), "child did not answer"
        child = recv.recv()
        proc.join(10)
        assert proc.exitcode == 0 and child == parent


BAD = [
    "",
    " \t\n ",
    "e" + "\u0301" * 10000,
    "\u0301" * 300,
    "\U0001F468\u200d\U0001F469\u200d\U0001F467 family",
    "\ue000\uf8ff\U000f0000\U0010fffd",
    "I \u2764\ufe0f \U0001F600 pizza \U0001F355",
    "مرحبا بالعالم — שלום עולם",
    "नमस्ते दुनिया क्षत्रिय",
    "a\x00b\x07c\ud800d\udfffe",
    b"caf\xc3\xa9 \xff\xfe\xed\xa0\x80",
    "\u200b" * 5000 + "x",
    "W" * 100000,
]


@pytest.mark.parametrize("name", ["gray", "pixar"])
def test_bad_input_does_not_crash(name, request):
    r = request.getfixturevalue(name)
    with hang_guard(20):
        for text in BAD:
            for res in (r(text), r([text, "Boulter"]), r((text, WIKI[0][:50]))):
                assert res.ok or res.reason in ("empty", "too_wide")
                if res.ok:
                    assert res.pixels.shape == (r.cfg.height, r.cfg.width)
                    assert (patch(res.pixels, res.eos_patch, r.cfg.pixels_per_patch) == 0).all()
            r.render_qa("Who?", text, stride=4)
    assert r(WIKI[0]).pixels.tobytes() == TextRenderer(r.cfg)(WIKI[0]).pixels.tobytes()


def test_scripts_it_cannot_shape_are_counted_not_silently_drawn(gray, pixar, udhr):
    """The pygame backend has no shaper and no bidi: with a font that has them (GoNoto), Arabic came out left to
    right and unjoined, Hebrew reversed, Devanagari and Tamil without conjuncts or reordering, Thai marks by their
    advance -- written as good samples with nothing to tell them apart. Every layout now counts such characters in
    ``unshaped_chars`` (the pipeline sums and warns: test_tofu_and_replacements.py); Latin, Cyrillic, Greek, Han
    and Hangul syllables draw as a shaper would (0), and characters the font lacks stay tofu, not counted twice."""
    from pixelkit.pipeline.render.text import needs_shaping

    for lang in ("arb", "heb", "hin", "tam", "tha"):
        text = udhr[lang]["paragraphs"][0][:80]
        expected = sum(map(needs_shaping, text))
        assert expected > 5
        res = gray.render_text(text)
        assert res.unshaped_chars == expected and res.unknown_glyphs == 0, lang
        words = text.split()
        assert gray.render_words(words).unshaped_chars == expected
        assert gray.render_pair(text, text).unshaped_chars == 2 * expected
        assert gray.render_qa("Q?", text)[0].unshaped_chars == expected
        lacking = pixar.render_text(text)  # PixeloidSans has none of these scripts: tofu only
        assert lacking.unshaped_chars == 0 and lacking.unknown_glyphs > 0
    for lang in ("eng", "rus", "ell_monotonic", "cmn_hans", "kor"):
        assert gray.render_text(udhr[lang]["paragraphs"][0][:80]).unshaped_chars == 0, lang
    vie = udhr["vie"]["paragraphs"][0][:80]  # its tone marks are combining characters after the vowel: by advance
    assert gray.render_text(vie).unshaped_chars == sum(map(needs_shaping, vie)) == 4
    assert gray.render_text("plain").unshaped_chars == 0  # the count starts over with every strip


def test_spaces_pixeloidsans_lacks_are_blank_at_pangos_width_not_tofu():
    """PIXAR's PixeloidSans has U+0020, U+00A0 and U+202F but not the other Unicode spaces (U+2000..U+200A, U+205F,
    U+3000: an em space in real text, an ideographic space in CJK): the PyGame backend drew each as the .notdef box
    and counted it as tofu, where Pango (HarfBuzz's fallback) draws a blank of the space's width. Now PyGame draws
    them blank at the same widths as Pango with the same font, not counted; U+1680 OGHAM SPACE MARK has ink: still
    tofu, counted."""
    pg, pango = TextRenderer(preset("pixar")), TextRenderer(preset("pixar-pango"))
    words = WIKI[0].split(" ")[:6]  # Robert Boulter is an English film
    def ink(r):  # inked columns of the text's patches (binary: 0 is ink; the EOS patch after them left out)
        return set(np.flatnonzero((r.pixels[:, : r.num_patches * 8] == 0).any(axis=0)).tolist())

    for cp in (*range(0x2000, 0x200B), 0x205F, 0x3000):
        space = chr(cp)
        text = space.join(words)
        got = pg.render_text(text)
        assert got.unknown_glyphs == 0 and pango.render_text(text).unknown_glyphs == 0, hex(cp)
        assert pg.measure(space * 8) == pango.measure(space * 8) and pg.measure(text) == pango.measure(text), hex(cp)
        # blank: the ink is each word's own, where the spaces' widths put it
        want, x = set(), 0
        for w in words:
            want |= {c + x for c in ink(pg.render_text(w))}
            x += pg.measure(w + space)
        assert ink(got) == want, hex(cp)
    assert pg.render_text("a\u1680b").unknown_glyphs == 1


THREADS_SCRIPT = """
import sys, threading
import pixelkit.pipeline.render.pygame  # noqa: F401
lazy = type(sys.modules["pygame.surfarray"]).__name__  # importlib.util._LazyModule until its first attribute access
from pixelkit.pipeline.render import TextRenderer, preset
errors, out, barrier = [], {}, threading.Barrier(4)
def work(k):
    try:
        r = TextRenderer(preset(sys.argv[1], backend="pygame"))
        barrier.wait()
        out[k] = r.render_text(sys.argv[2]).pixels.tobytes()
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print(lazy, errors, len(set(out.values())), len(out))
"""


@pytest.mark.parametrize("name", ["pixar", "pixel"])  # binary (8-bit surface), antialiased gray (24-bit)
def test_first_renders_in_several_threads_at_once(tmp_path, name):
    """Beam's --direct_running_mode multi_threading gives each thread its own renderer: the first strips of several
    threads at once crashed some runs ("module 'pygame.surfarray' has no attribute 'pixels2d'": pygame-ce's lazy
    surfarray, loaded by whichever thread touched it first, was seen half loaded by the others). A fresh
    interpreter, so surfarray starts unloaded; the module is loaded when the backend is imported."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "SDL_VIDEODRIVER": "dummy"}
    p = subprocess.run([sys.executable, "-c", THREADS_SCRIPT, name, WIKI[0]],
                       capture_output=True, text=True, env=env, timeout=120)
    lazy, rest = p.stdout.split(" ", 1)
    assert p.returncode == 0 and lazy != "_LazyModule", p.stdout + p.stderr
    assert rest.strip() == "[] 1 4", p.stdout + p.stderr  # no thread failed, all drew the same strip
