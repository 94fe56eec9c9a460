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
they cut the same runs. ``scriptgate`` asks it for a mixed strip holding a paired mark, and sends the strip to
Pango when they do not (a closing bracket after a word of another script than its opening one's: "Текст (Latin)"),
or when the strip holds a character past the BMP (the tables are per BMP code point). The batches that shape a
mixed strip's new words are not concerned: a word is cached in the class of the item Pango put it in, whole
(``ShapeCache._harvest``), and ``measure_mixed`` takes it only where the strip's run has that class.

``tests/test_render_brackets.py`` checks ``agree`` against Pango's own items, and the composed strips (real
Bulgarian Wikipedia and UDHR text, randomized brackets) against Pango's pixels, first and second pass.
"""

from __future__ import annotations

import functools

import numpy as np

from .cjk import pair_table, runs


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(script per BMP code point, Pango's pair table, a pair table with no pairs)."""
    from .scriptgate import gate  # (scriptgate imports this module)

    pair = pair_table()
    return np.array(gate().script, np.uint8), pair, np.full_like(pair, -1)


def agree(text: str) -> bool:
    """True when Pango's script iterator cuts ``text`` (BMP text) into the same runs, each of the same script, with
    its paired punctuation as without it; False too for text past the BMP."""
    cps = np.frombuffer(text.encode("utf-32-le"), np.uint32).astype(np.int32)
    if cps.max(initial=0) >= 1 << 16:
        return False
    script, pair, none = _tables()
    paired = np.empty(len(cps), np.int32)
    plain = np.empty(len(cps), np.int32)
    runs(cps, script, pair, paired)
    runs(cps, script, none, plain)
    return bool(np.array_equal(paired, plain))
