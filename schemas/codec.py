"""Lossless pixel payload encodings: the bytes stored as ``<key>.<encoding>`` in a shard.

    data = encode_pixels(pixels, "gray", "pxz")
    pixels = decode_pixels(data, "pxz", mode="gray", height=16, width=8464)

Pixel conventions (fixed by the renderer): ``gray`` is uint8 (H, W), 255 = white; ``rgb`` is uint8 (H, W, 3);
``binary`` is uint8 (H, W) with values in {0, 1}, 1 = white.

Encodings (the names are also tar member extensions, so they hold no dots):

``png``
    A plain PNG any image tool or HF ``datasets`` opens: gray -> 8-bit ``L``, rgb -> 8-bit ``RGB``, binary ->
    1-bit (bit 1 = white). Pillow, fixed ``compress_level``, no metadata chunks. Slow: ~3 ms for a gray strip.

``pxz`` (default)
    A 14-byte header then one zstd frame (content size and checksum written, no dictionary; the compression
    parameters are ``PXZ_ZSTD``, level 3's strategy with cache-sized tables; a decoder needs none of them)::

        offset size  field
        0      3     magic b"PXZ"
        3      1     version (1)
        4      1     mode: 1 gray, 2 rgb, 3 binary
        5      1     flags (0; reserved)
        6      4     height, uint32 little-endian
        10     4     width,  uint32 little-endian
        14     ...   zstd frame of the pixels in the layout below

    Layout (version 1): column-major, so the 16 px of one glyph column are adjacent bytes and a glyph that
    repeats at the same sub-pixel offset repeats as one byte run zstd matches in a single sequence.
    gray: ``pixels.T`` (W, H). rgb: planar, ``pixels.transpose(2, 1, 0)`` (3, W, H); text renders have equal
    planes, which zstd stores as two long matches. binary: each column packed MSB-first (top pixel = high bit)
    into ceil(H / 8) bytes, padding bits 0. On real strips this is ~0.53x PNG's bytes (gray), ~0.37x (binary)
    and ~0.36x (rgb), encoding >10x faster: see tests/benchmarks/results/codec.md.

Both encodings are deterministic for given zstd/zlib builds (same array -> same bytes in any process; the
pinned zstandard wheel bundles libzstd, PNG bytes depend on the zlib Pillow links). Decoding never depends on
the build.

Decoding is strict: a payload of another encoding, mode, version or shape, truncated, with trailing bytes, or
failing the zstd checksum / a PNG chunk CRC raises ``ValueError``; sizes are checked against ``height * width *
channels`` (itself capped at ``MAX_PIXEL_BYTES``) before anything is decompressed, so allocations stay
proportional to the stated shape whatever a payload's headers claim.

Imports stdlib, numpy and zstandard; Pillow only inside the PNG functions.
"""

from __future__ import annotations

import io
import struct
import threading
import zlib

import numpy as np
import zstandard

from .vocab import MODES
from .vocab import channels as _channels

ENCODINGS: tuple[str, ...] = ("png", "pxz")
DEFAULT_ENCODING: str = "pxz"

MAX_PIXEL_BYTES = 1 << 26  # 64 MiB decoded (a 16x8464 gray strip is 132 KiB): refuses absurd shapes early

PXZ_MAGIC = b"PXZ"
PXZ_VERSION = 1
# zstd level 3's strategy (dfast) with small match tables: the same bytes as level 3 on strips (+-1%), but its
# two 16 KiB tables stay in cache right after a render has evicted everything, where level 3's two 256 KiB
# tables cost ~25% more encode time (bench_codec.py). window_log 20 keeps matches between the rgb planes of
# wide strips (a plane of a 16x16384 PixelGPT strip is 256 KiB).
PXZ_ZSTD = dict(strategy=zstandard.STRATEGY_DFAST, window_log=20, hash_log=12, chain_log=12, search_log=1,
                min_match=5, target_length=0)
_PXZ_HEADER = struct.Struct("<3sBBBII")
_MODE_CODE = {"gray": 1, "rgb": 2, "binary": 3}
_CODE_MODE = {v: k for k, v in _MODE_CODE.items()}

PNG_COMPRESS_LEVEL = 6  # Pillow's and zlib's default
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MODE = {"gray": "L", "rgb": "RGB", "binary": "1"}

_local = threading.local()  # zstd (de)compressors are not thread-safe: one pair per thread


def _cctx() -> zstandard.ZstdCompressor:
    c = getattr(_local, "cctx", None)
    if c is None:
        params = zstandard.ZstdCompressionParameters(**PXZ_ZSTD, write_checksum=1, write_content_size=1,
                                                     write_dict_id=0, threads=0)
        c = _local.cctx = zstandard.ZstdCompressor(compression_params=params)
    return c


def _dctx() -> zstandard.ZstdDecompressor:
    d = getattr(_local, "dctx", None)
    if d is None:
        d = _local.dctx = zstandard.ZstdDecompressor()
    return d


# -- validation ---------------------------------------------------------------------------------------------
def _check_mode_encoding(mode: object, encoding: object) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")


def _check_size(height: int, width: int, mode: str) -> None:
    for name, v in (("height", height), ("width", width)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    n = int(height) * int(width) * _channels(mode)
    if n > MAX_PIXEL_BYTES:
        raise ValueError(f"{height}x{width} {mode} is {n} bytes, over MAX_PIXEL_BYTES={MAX_PIXEL_BYTES}")


def _check_pixels(pixels: object, mode: str) -> np.ndarray:
    if not isinstance(pixels, np.ndarray):
        raise ValueError(f"pixels must be a numpy array, got {type(pixels).__name__}")
    if pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be uint8, got {pixels.dtype}")
    want = "(H, W, 3)" if mode == "rgb" else "(H, W)"
    if (pixels.ndim != (3 if mode == "rgb" else 2)) or (mode == "rgb" and pixels.shape[2] != 3):
        raise ValueError(f"{mode} pixels must have shape {want}, got {pixels.shape}")
    _check_size(pixels.shape[0], pixels.shape[1], mode)
    if mode == "binary" and pixels.max() > 1:
        raise ValueError(f"binary pixels must be 0 or 1 (1 = white), found {int(pixels.max())}")
    return pixels


def _as_buffer(data: object) -> memoryview:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"payload must be bytes, got {type(data).__name__}")
    mv = memoryview(data)
    if not mv.c_contiguous:
        raise ValueError("payload must be a contiguous buffer")
    return mv.cast("B") if mv.ndim != 1 or mv.format != "B" else mv


# -- public API ---------------------------------------------------------------------------------------------
def encode_pixels(pixels: np.ndarray, mode: str, encoding: str) -> bytes:
    """Encode a pixel array losslessly. Raises ValueError on a bad array, mode or encoding."""
    _check_mode_encoding(mode, encoding)
    pixels = _check_pixels(pixels, mode)
    if encoding == "pxz":
        return _pxz_encode(pixels, mode)
    return _png_encode(pixels, mode)


def decode_pixels(data: bytes, encoding: str, *, mode: str, height: int, width: int,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Decode a payload to a new, writable, C-contiguous uint8 array of the stated mode and shape.

    With ``out`` (a writable, contiguous uint8 array of at least ``height * width * channels`` bytes that the
    caller reuses), the pixels are decoded into it instead and the result is a view of ``out`` in the
    payload's memory order (pxz stores columns: the (H, W) array is then a transposed view), valid until
    ``out`` is reused. A batch loader decoding into the same buffers again and again skips an allocation and
    a copy per strip (zstd into a fresh 135 KB buffer costs more than twice zstd into a warm one here).
    Raises ValueError if the payload is corrupt, truncated, of another mode or shape, or not this encoding."""
    _check_mode_encoding(mode, encoding)
    _check_size(height, width, mode)
    buf = _as_buffer(data)
    if out is not None:
        need = int(height) * int(width) * _channels(mode)
        if out.dtype != np.uint8 or not out.flags.c_contiguous or not out.flags.writeable or out.size < need:
            raise ValueError(f"out must be a writable C-contiguous uint8 array of >= {need} elements")
        out = out.reshape(-1)[:need]
    if encoding == "pxz":
        return _pxz_decode(buf, mode, int(height), int(width), out)
    pixels = _png_decode(buf, mode, int(height), int(width))
    if out is None:
        return pixels
    view = out.reshape(pixels.shape)
    view[...] = pixels
    return view


# -- pxz ----------------------------------------------------------------------------------------------------
def _packed_rows(height: int) -> int:
    return (height + 7) // 8


def _columns(pixels: np.ndarray) -> np.ndarray:
    """(H, W) -> the C-contiguous (W, H) transpose, one row at a time: ~3x faster than numpy's element-wise
    transposed copy of a one-patch-high strip (same bytes). A Fortran-ordered strip (the Pango renderer hands
    out its gray strips so) is that transpose already: returned as it is, no copy."""
    if pixels.T.flags.c_contiguous:
        return pixels.T
    out = np.empty((pixels.shape[1], pixels.shape[0]), pixels.dtype)
    for r in range(pixels.shape[0]):
        out[:, r] = pixels[r]
    return out


def _pxz_layout(pixels: np.ndarray, mode: str) -> np.ndarray:
    """The C-contiguous array whose bytes are compressed (see the module docstring)."""
    if mode == "gray":
        return _columns(pixels)
    if mode == "rgb":
        return np.ascontiguousarray(pixels.transpose(2, 1, 0))
    cols = _columns(pixels)  # (W, H)
    if pixels.shape[0] % 8 == 0:  # a column is whole bytes: pack the flat run (fast path, same bytes)
        return np.packbits(cols.reshape(-1))
    return np.packbits(cols, axis=1)


def _pxz_encode(pixels: np.ndarray, mode: str) -> bytes:
    h, w = pixels.shape[:2]
    header = _PXZ_HEADER.pack(PXZ_MAGIC, PXZ_VERSION, _MODE_CODE[mode], 0, h, w)
    return header + _cctx().compress(_pxz_layout(pixels, mode))


def _pxz_decode(buf: memoryview, mode: str, height: int, width: int, out: np.ndarray | None) -> np.ndarray:
    if len(buf) < _PXZ_HEADER.size:
        raise ValueError(f"pxz payload is truncated: {len(buf)} bytes, the header alone is {_PXZ_HEADER.size}")
    magic, version, code, flags, h, w = _PXZ_HEADER.unpack_from(buf)
    if magic != PXZ_MAGIC:
        raise ValueError(f"not a pxz payload (magic {bytes(magic)!r}, want {PXZ_MAGIC!r})")
    if version != PXZ_VERSION:
        raise ValueError(f"pxz version {version} is not supported (this reader knows {PXZ_VERSION})")
    if code not in _CODE_MODE or flags != 0:
        raise ValueError(f"pxz header is corrupt (mode code {code}, flags {flags})")
    if _CODE_MODE[code] != mode:
        raise ValueError(f"pxz payload holds mode {_CODE_MODE[code]!r}, expected {mode!r}")
    if (h, w) != (height, width):
        raise ValueError(f"pxz payload is {h}x{w}, expected {height}x{width}")
    if mode == "binary":
        nb = _packed_rows(height)
        expected = width * nb
    else:
        expected = height * width * _channels(mode)
    frame = buf[_PXZ_HEADER.size:]
    try:
        params = zstandard.get_frame_parameters(frame)
    except zstandard.ZstdError as e:
        raise ValueError(f"pxz payload is corrupt or truncated: {e}") from e
    # Checked before decompressing: python-zstandard allocates whatever the frame header claims.
    if params.content_size != expected:
        raise ValueError(f"pxz frame declares {params.content_size} bytes, {height}x{width} {mode} needs {expected}")
    if params.dict_id != 0 or not params.has_checksum:
        raise ValueError("pxz frame must carry a checksum and no dictionary")
    direct = out is not None and mode != "binary"  # binary unpacks its bits: it decompresses to fresh bytes
    try:
        flat = _decompress_into(frame, expected, out) if direct else np.frombuffer(
            _dctx().decompress(frame, max_output_size=expected, allow_extra_data=False), dtype=np.uint8)
    except zstandard.ZstdError as e:
        raise ValueError(f"pxz payload is corrupt or truncated: {e}") from e
    if len(flat) != expected:
        raise ValueError(f"pxz payload is truncated or corrupt: it decompressed to {len(flat)} bytes, expected {expected}")
    if mode == "gray":
        view = flat.reshape(width, height).T
        return view if direct else view.copy()  # .copy() is C order and owns writable memory
    if mode == "rgb":  # plane by plane: ~5x faster than one transpose(2, 1, 0) copy
        planes = flat.reshape(3, width, height)
        if direct:
            return planes.transpose(2, 1, 0)
        out = np.empty((height, width, 3), dtype=np.uint8)
        for c in range(3):
            out[:, :, c] = planes[c].T
        return out
    if height % 8 == 0:
        cols = np.unpackbits(flat).reshape(width, height)
    else:
        bits = np.unpackbits(flat.reshape(width, nb), axis=1)
        if bits[:, height:].any():
            raise ValueError("pxz binary payload is corrupt: padding bits are set")
        cols = bits[:, :height]
    if out is None:
        return cols.T.copy()
    view = out.reshape(width, height)
    view[...] = cols
    return view.T


def _decompress_into(frame: memoryview, expected: int, out: np.ndarray) -> np.ndarray:
    """Decompress one frame into ``out[:expected]`` as strictly as ``decompress(allow_extra_data=False)``: the
    frame must span the payload exactly (a streaming reader would stop quietly at a cut), and reading on to
    the frame's end makes zstd check its content checksum."""
    size = _zstd_frame_size(frame)
    if size != len(frame):
        raise ValueError(f"pxz payload is truncated or corrupt: its frame spans {size} bytes, the payload "
                         f"holds {len(frame)}" + (" (data after its frame)" if size < len(frame) else ""))
    dst, filled = memoryview(out), 0
    with _dctx().stream_reader(frame) as reader:
        while filled < expected:
            got = reader.readinto(dst[filled:expected])
            if not got:
                break
            filled += got
        if reader.read(1):
            raise ValueError("pxz payload is corrupt: more content than its frame declares")
    return out[:filled]


def _zstd_frame_size(frame: memoryview) -> int:
    """Bytes one zstd frame spans (RFC 8878 section 3.1.1: header, blocks up to the last one, 4-byte content
    checksum, which pxz frames always carry). Reads only the 3-byte block headers."""
    pos = zstandard.frame_header_size(frame)
    while True:
        if pos + 3 > len(frame):
            return pos + 3 + 4  # cut inside a block header: longer than the payload, i.e. truncated
        header = frame[pos] | frame[pos + 1] << 8 | frame[pos + 2] << 16
        kind, size = (header >> 1) & 3, header >> 3
        if kind == 3:
            raise ValueError("pxz payload is corrupt: reserved zstd block type")
        pos += 3 + (1 if kind == 1 else size)  # an RLE block stores its one byte
        if header & 1:  # last block
            return pos + 4


# -- png ----------------------------------------------------------------------------------------------------
def _png_encode(pixels: np.ndarray, mode: str) -> bytes:
    from PIL import Image

    h, w = pixels.shape[:2]
    if mode == "binary":  # Pillow mode "1" raw data: rows packed MSB-first, padded to whole bytes; 1 = white
        im = Image.frombytes("1", (w, h), np.packbits(pixels, axis=1).tobytes())
    else:
        im = Image.frombytes(_PNG_MODE[mode], (w, h), np.ascontiguousarray(pixels).tobytes())
    out = io.BytesIO()
    im.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL, optimize=False)
    return out.getvalue()


def _png_check_chunks(buf: memoryview) -> None:
    """Signature, every chunk's CRC, and IEND as the last bytes: Pillow checks none of the IDAT CRCs and can
    return partial pixels from a truncated file when ImageFile.LOAD_TRUNCATED_IMAGES is set elsewhere."""
    if bytes(buf[:8]) != _PNG_SIGNATURE:
        raise ValueError("not a PNG payload (bad signature)")
    pos, n = 8, len(buf)
    while True:
        if pos + 12 > n:
            raise ValueError("PNG payload is truncated (no IEND chunk)")
        (length,) = struct.unpack_from(">I", buf, pos)
        end = pos + 12 + length
        if end > n:
            raise ValueError("PNG payload is truncated (a chunk runs past the end)")
        (crc,) = struct.unpack_from(">I", buf, end - 4)
        if zlib.crc32(buf[pos + 4:end - 4]) != crc:
            raise ValueError(f"PNG payload is corrupt: bad CRC in chunk {bytes(buf[pos + 4:pos + 8])!r}")
        ctype = bytes(buf[pos + 4:pos + 8])
        pos = end
        if ctype == b"IEND":
            break
    if pos != n:
        raise ValueError(f"PNG payload has {n - pos} bytes after IEND")


def _png_decode(buf: memoryview, mode: str, height: int, width: int) -> np.ndarray:
    from PIL import Image

    _png_check_chunks(buf)
    try:
        im = Image.open(io.BytesIO(buf), formats=["PNG"])
    except Exception as e:  # Pillow raises several types (UnidentifiedImageError, SyntaxError, DecompressionBomb...)
        raise ValueError(f"PNG payload cannot be opened: {e}") from e
    with im:
        # Checked from IHDR before any pixel is decoded, so a lying header allocates nothing.
        if im.size != (width, height):
            raise ValueError(f"PNG payload is {im.size[1]}x{im.size[0]}, expected {height}x{width}")
        if im.mode != _PNG_MODE[mode]:
            raise ValueError(f"PNG payload has image mode {im.mode!r}, {mode} needs {_PNG_MODE[mode]!r}")
        try:
            im.load()
            raw = im.tobytes()
        except Exception as e:
            raise ValueError(f"PNG payload is corrupt or truncated: {e}") from e
    flat = np.frombuffer(raw, dtype=np.uint8)
    if mode == "binary":
        row = (width + 7) // 8
        if flat.size != height * row:
            raise ValueError(f"PNG payload decoded to {flat.size} bytes, expected {height * row}")
        return np.unpackbits(flat.reshape(height, row), axis=1, count=width)
    want = height * width * _channels(mode)
    if flat.size != want:
        raise ValueError(f"PNG payload decoded to {flat.size} bytes, expected {want}")
    return flat.reshape((height, width, 3) if mode == "rgb" else (height, width)).copy()
