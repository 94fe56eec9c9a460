"""Mixed left-to-right strips with paired punctuation: when Pango's script runs are those ``measure_mixed`` reads.

``kernels.measure_mixed`` lays a strip of several scripts out in the runs of Pango's script iterator *without*
paired punctuation: a digit or punctuation mark takes the script of the run it stands in. Pango's iterator
(pango-script.c; ``cjk.runs`` does what it does) also keeps a stack of the opening marks of its paired list
(``cjk.PAIRED``), each with the script of the run it was pushed in, and a closing mark takes the script of its
opening one. That is the only thing the pairs change: an opening mark, or a closing mark without its opening one
on the stack, is read as any other mark; a closing mark whose opening one was pushed in the run's own script (or
in no script yet: the stack's entries are set to the run's script when it gets one) continues the run as any
other mark would. So where every character falls in a run of the same script both ways, Pango itemizes the strip
as if its marks were not paired, and ``measure_mixed`` lays it out as Pango does.

``agree(text)`` runs the iterator both ways (``cjk.runs`` with Pango's pair table and with none) and says whether
they cut the same runs. ``scriptgate`` asks ``runs_split_no_word`` for every mixed strip: it sends the strip to
Pango when they do not agree (a closing bracket after a word of another script than its opening one's: "Текст
(Latin) текст"), when a run starts inside a word (which the cache never composes), or when the strip holds a
character past the BMP (the tables are per BMP code point). The batches that shape a mixed strip's new words
are not concerned: a word is cached in the class of the item Pango put it in, whole
(``ShapeCache._harvest``), and ``measure_mixed`` takes it only where the strip's run has that class.

``tests/test_render_brackets.py`` checks ``cjk.runs`` against Pango's own items and the composed strips against
Pango's pixels, first and second pass (real Bulgarian Wikipedia and UDHR text, randomized brackets), and that
composing a strip the gate turns away would differ (a closing bracket GoNoto kerns with a Latin letter).
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from .cjk import pair_table, runs


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(script per BMP code point, Pango's pair table, a pair table with no pairs)."""
    from .scriptgate import gate  # (scriptgate imports this module)

    pair = pair_table()
    return gate().script_u8, pair, np.full_like(pair, -1)


def _runs(text: str, pairs: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """(code points, run script per character) of BMP ``text``, Pango's pairs followed or not; None past the BMP."""
    cps = np.frombuffer(text.encode("utf-32-le"), np.uint32).astype(np.int32)
    if cps.max(initial=0) >= 1 << 16:
        return None
    script, pair, none = _tables()
    out = np.empty(len(cps), np.int32)
    runs(cps, script, pair if pairs else none, out)
    return cps, out


def agree(text: str) -> bool:
    """True when Pango's script iterator cuts ``text`` (BMP text) into the same runs, each of the same script, with
    its paired punctuation as without it; False too for text past the BMP."""
    got = _runs(text, True)
    return got is not None and bool(np.array_equal(got[1], _runs(text, False)[1]))


@numba.njit(cache=True, nogil=True)
def _split_no_word(cps, script, pair, none):
    """``runs_split_no_word`` over the code points ``cps`` in one compiled call (~2x faster than numpy around two
    ``runs`` calls, and than a regex looking for paired marks first: it is asked for every mixed strip)."""
    n = cps.shape[0]
    paired = False
    for i in range(n):
        if cps[i] >= 0x10000:
            return False
        if pair[cps[i]] >= 0:
            paired = True
    rs = np.empty(n, np.int32)
    runs(cps, script, pair, rs)
    if paired:
        plain = np.empty(n, np.int32)
        runs(cps, script, none, plain)
        for i in range(n):
            if rs[i] != plain[i]:
                return False
    for i in range(1, n):
        if rs[i] != rs[i - 1] and cps[i - 1] != 32:
            return False
    return True


def runs_split_no_word(text: str) -> bool:
    """For a strip of several composable scripts: True when ``agree`` holds (without a mark of Pango's pair list:
    always) and every run Pango's script iterator cuts starts at a word's start
    (after a space, or at the strip's start). A word split between two runs ("18.I.1919" or "„AD“," in Cyrillic
    prose: its digits or quote take the Cyrillic run, its letters start a Latin one) lies in two items of Pango's
    layout, so the cache never composes it (``measure_mixed`` takes a word only inside one run of its class):
    saying so before shaping keeps its words from being shaped for a strip Pango draws anyway."""
    script, pair, none = _tables()
    return _split_no_word(np.frombuffer(text.encode("utf-32-le"), np.int32), script, pair, none)
