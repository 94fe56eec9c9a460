"""The gray canvas handed out in pxz's column order, in one compiled pass (numba, cached on disk).

Pango/cairo draw into an A8 surface, row-major, alpha 0 = blank paper. A strip leaves the renderer as black ink
on white, and pxz stores it column by column (schemas/codec.py): done in numpy, that was an inversion plus a
byte-wise transpose of every column, although most of a task strip is the blank paper after its EOS patch (on
UD English-EWT at 256 patches, ~620 of 4,096 columns hold ink on average). ``canvas_columns`` finds the last
column that may hold ink (eight columns at a time: the last nonzero 8-byte word of each row), inverts and
transposes the columns up to it and fills the rest white. The renderer returns ``out.T``: the same (H, W)
pixels, a Fortran-ordered view whose transpose the codec compresses without a copy.

The transpose works on 8x8 blocks of bytes held in eight 64-bit words (eight rows of eight columns in, eight
columns of eight rows out: three rounds of swapping halves, quarters and bytes), so a full 16x8464 strip is ~2,100
block transposes instead of 135,000 strided byte moves; heights that are not a multiple of 8 go byte by byte.
Heights that are a multiple of 16 (PIXEL's 16 px strips) go 16x16 bytes at a time in SIMD registers instead
(``_tile16``: sixteen 16-byte rows loaded, four rounds of byte interleaving, sixteen columns stored; ~8 instead of
~55 us a full strip): each 16-byte vector is one row in and one column out.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_LO32, _HI32 = np.uint64(0x00000000FFFFFFFF), np.uint64(0xFFFFFFFF00000000)
_LO16, _HI16 = np.uint64(0x0000FFFF0000FFFF), np.uint64(0xFFFF0000FFFF0000)
_LO8, _HI8 = np.uint64(0x00FF00FF00FF00FF), np.uint64(0xFF00FF00FF00FF00)
_S32, _S16, _S8 = np.uint64(32), np.uint64(16), np.uint64(8)


@numba.njit(cache=True, nogil=True, inline="always")
def _swap(a, b, lo, hi, s):
    """One round of the 8x8 byte transpose on a pair of words: a's high part <-> b's low part."""
    return (a & lo) | ((b & lo) << s), ((a >> s) & lo) | (b & hi)


@intrinsic
def _tile16(typingctx, src, src_stride, dst, dst_stride):
    """Invert and transpose one 16x16 byte tile: 16 rows of 16 bytes at address ``src`` (``src_stride`` bytes
    apart) -> 16 rows at ``dst`` (``dst_stride`` apart), dst row c = 255 - src column c. Four rounds of interleaving
    row i with row i + 8 byte by byte (LLVM shufflevector: SSE2 punpcklbw / punpckhbw) transpose a 16x16 tile."""
    sig = types.void(src, src_stride, dst, dst_stride)

    def codegen(context, builder, signature, args):
        s, s_stride, d, d_stride = args
        v16 = ir.VectorType(ir.IntType(8), 16)
        i8p = ir.IntType(8).as_pointer()
        s, d = builder.inttoptr(s, i8p), builder.inttoptr(d, i8p)
        x = [builder.load(builder.bitcast(builder.gep(s, [builder.mul(s_stride, ir.Constant(s_stride.type, r))]),
                                          v16.as_pointer()), align=1) for r in range(16)]
        lo = ir.Constant(ir.VectorType(ir.IntType(32), 16), [k // 2 + 16 * (k % 2) for k in range(16)])
        hi = ir.Constant(ir.VectorType(ir.IntType(32), 16), [8 + k // 2 + 16 * (k % 2) for k in range(16)])
        for _ in range(4):
            y = []
            for i in range(8):
                y += [builder.shuffle_vector(x[i], x[i + 8], lo), builder.shuffle_vector(x[i], x[i + 8], hi)]
            x = y
        ones = ir.Constant(v16, [255] * 16)
        for c in range(16):
            at = builder.gep(d, [builder.mul(d_stride, ir.Constant(d_stride.type, c))])
            builder.store(builder.xor(x[c], ones), builder.bitcast(at, v16.as_pointer()), align=1)
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(cache=True, nogil=True)
def ink_columns(raw, raw64, width, out, upto):
    """``out[c, r] = 255 - raw[r, c]`` for the columns up to the last 8-column word holding ink in any row
    (``raw64``: ``raw`` (H, stride) viewed as uint64, stride a multiple of 8; ``upto``: no ink from that column
    on); returns how many columns that is (at most ``width``). Every column right of them is blank (0) on the
    canvas: the caller fills it white."""
    h, n = raw.shape[0], min(raw64.shape[1], (upto + 7) // 8)
    end = 0  # 8-column words up to the last one holding ink, over the rows so far
    for r in range(h):
        w = n - 1
        while w >= end and raw64[r, w] == 0:
            w -= 1
        end = max(end, w + 1)
    end = min(end * 8, width)
    done = 0
    if h % 16 == 0 and out.shape[1] == h and raw.strides[1] == 1 and out.strides[1] == 1 and out.strides[0] == h:
        done = end - end % 16
        src, rs, dst = raw.ctypes.data, raw.strides[0], out.ctypes.data
        for rb in range(h // 16):
            for c0 in range(0, done, 16):
                _tile16(src + rb * 16 * rs + c0, rs, dst + c0 * h + rb * 16, h)
    elif h % 8 == 0 and out.shape[1] == h:
        out64 = out.reshape(out.shape[0] * (h // 8), 8).view(np.uint64).reshape(out.shape[0], h // 8)
        done = end - end % 8
        for rb in range(h // 8):  # (rows outer: each row is read in order, ~2.5x faster than columns outer)
            r = rb * 8
            for w in range(done // 8):
                x0, x4 = _swap(raw64[r, w], raw64[r + 4, w], _LO32, _HI32, _S32)
                x1, x5 = _swap(raw64[r + 1, w], raw64[r + 5, w], _LO32, _HI32, _S32)
                x2, x6 = _swap(raw64[r + 2, w], raw64[r + 6, w], _LO32, _HI32, _S32)
                x3, x7 = _swap(raw64[r + 3, w], raw64[r + 7, w], _LO32, _HI32, _S32)
                x0, x2 = _swap(x0, x2, _LO16, _HI16, _S16)
                x1, x3 = _swap(x1, x3, _LO16, _HI16, _S16)
                x4, x6 = _swap(x4, x6, _LO16, _HI16, _S16)
                x5, x7 = _swap(x5, x7, _LO16, _HI16, _S16)
                x0, x1 = _swap(x0, x1, _LO8, _HI8, _S8)
                x2, x3 = _swap(x2, x3, _LO8, _HI8, _S8)
                x4, x5 = _swap(x4, x5, _LO8, _HI8, _S8)
                x6, x7 = _swap(x6, x7, _LO8, _HI8, _S8)
                c = w * 8
                out64[c, rb], out64[c + 1, rb], out64[c + 2, rb], out64[c + 3, rb] = ~x0, ~x1, ~x2, ~x3
                out64[c + 4, rb], out64[c + 5, rb], out64[c + 6, rb], out64[c + 7, rb] = ~x4, ~x5, ~x6, ~x7
    for c in range(done, end):
        for r in range(h):
            out[c, r] = 255 - raw[r, c]
    return end


@numba.njit(cache=True, nogil=True)
def ink_span(raw, raw64, width):
    """The columns [first, last + 1) of the visible canvas holding ink in any row ((0, 0): none): the 8-column
    words holding ink found first (``raw64`` as above), then the exact columns within them."""
    h, n = raw64.shape[0], raw64.shape[1]
    lo, hi = n, -1
    for r in range(h):
        for w in range(n):
            if raw64[r, w] != 0:
                lo = min(lo, w)
                break
        for w in range(n - 1, hi, -1):
            if raw64[r, w] != 0:
                hi = w
                break
    a, b = width, 0
    for r in range(h):
        for c in range(lo * 8, min(hi * 8 + 8, width)):
            if raw[r, c] != 0:
                a, b = min(a, c), max(b, c + 1)
    return (a, b) if a < b else (0, 0)


def canvas_columns(raw, raw64, width, out, upto):
    """``out`` (C-contiguous (width, H) uint8) = the inverted visible canvas, transposed (``upto``: no ink from
    that column on)."""
    end = ink_columns(raw, raw64, width, out, upto)
    out[end:] = 255
