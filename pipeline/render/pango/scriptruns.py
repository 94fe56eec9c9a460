"""Pango's script iterator (pango-script.c), emulated for the shaping cache: the runs it cuts a strip into, paired
punctuation included. ``cjk.py`` cuts Han/kana strips at these runs, ``brackets.py`` checks mixed strips with them;
``tests/test_render_brackets.py`` and ``tests/test_render_cjk.py`` compare them with Pango's own iterator."""

from __future__ import annotations

import numba
import numpy as np

# Pango's paired punctuation (pango-script.c ``paired_chars``): even index opens, odd index closes
PAIRED = (0x0028, 0x0029, 0x003C, 0x003E, 0x005B, 0x005D, 0x007B, 0x007D, 0x00AB, 0x00BB, 0x0F3A, 0x0F3B,
          0x0F3C, 0x0F3D, 0x169B, 0x169C, 0x2018, 0x2019, 0x201C, 0x201D, 0x2039, 0x203A, 0x2045, 0x2046,
          0x207D, 0x207E, 0x208D, 0x208E, 0x27E6, 0x27E7, 0x27E8, 0x27E9, 0x27EA, 0x27EB, 0x27EC, 0x27ED,
          0x27EE, 0x27EF, 0x2983, 0x2984, 0x2985, 0x2986, 0x2987, 0x2988, 0x2989, 0x298A, 0x298B, 0x298C,
          0x298D, 0x298E, 0x298F, 0x2990, 0x2991, 0x2992, 0x2993, 0x2994, 0x2995, 0x2996, 0x2997, 0x2998,
          0x29FC, 0x29FD, 0x2E02, 0x2E03, 0x2E04, 0x2E05, 0x2E09, 0x2E0A, 0x2E0C, 0x2E0D, 0x2E1C, 0x2E1D,
          0x2E20, 0x2E21, 0x2E22, 0x2E23, 0x2E24, 0x2E25, 0x2E26, 0x2E27, 0x2E28, 0x2E29, 0x3008, 0x3009,
          0x300A, 0x300B, 0x300C, 0x300D, 0x300E, 0x300F, 0x3010, 0x3011, 0x3014, 0x3015, 0x3016, 0x3017,
          0x3018, 0x3019, 0x301A, 0x301B, 0xFE59, 0xFE5A, 0xFE5B, 0xFE5C, 0xFE5D, 0xFE5E, 0xFF08, 0xFF09,
          0xFF3B, 0xFF3D, 0xFF5B, 0xFF5D, 0xFF5F, 0xFF60, 0xFF62, 0xFF63)
_COMMON = 0
_DEPTH = 128  # Pango's PAREN_STACK_DEPTH


def pair_table() -> np.ndarray:
    t = np.full(1 << 16, -1, np.int16)
    t[list(PAIRED)] = np.arange(len(PAIRED), dtype=np.int16)
    return t


@numba.njit(cache=True, nogil=True)
def _real(sc):
    return sc > 1 and sc != 61  # not Common, Inherited or Unknown


@numba.njit(cache=True, nogil=True)
def runs(cps, script, pair, out):
    """Pango's script iterator (pango_script_iter_next) over the code points ``cps``: ``out[i]`` = the script of the
    run character i falls in; returns the number of runs."""
    n = cps.shape[0]
    stack_pair = np.empty(_DEPTH, np.int32)
    stack_sc = np.empty(_DEPTH, np.int32)
    sp = -1
    end = 0
    nruns = 0
    while end < n:
        start_sp = sp
        code = _COMMON
        start = end
        while end < n:
            ch = cps[end]
            sc = np.int32(script[ch])
            pi = -1
            if sc == _COMMON:
                pi = np.int32(pair[ch])
            if pi >= 0:
                if pi & 1 == 0:
                    sp += 1
                    if sp >= _DEPTH:
                        sp = 0
                    stack_pair[sp] = pi
                    stack_sc[sp] = code
                elif sp >= 0:
                    want = pi & ~1
                    while sp >= 0 and stack_pair[sp] != want:
                        sp -= 1
                    if sp < start_sp:
                        start_sp = sp
                    if sp >= 0:
                        sc = stack_sc[sp]
            if not _real(code) or not _real(sc) or code == sc:
                if not _real(code) and _real(sc):
                    code = sc
                    while start_sp < sp:
                        start_sp += 1
                        stack_sc[start_sp] = code
                if pi >= 0 and pi & 1 == 1 and sp >= 0:
                    sp -= 1
                    if sp < start_sp:
                        start_sp = sp
            else:
                break
            end += 1
        for i in range(start, end):
            out[i] = code
        nruns += 1
    return nruns
