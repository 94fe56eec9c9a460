"""The pixel codecs: lossless, deterministic, strict, and no allocation beyond the stated shape."""

from __future__ import annotations

import hashlib
import io
import struct
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import zstandard

from pixelkit.pipeline.render import RenderConfig, TextRenderer, preset
from pixelkit.schemas import codec
from pixelkit.schemas.codec import DEFAULT_ENCODING, ENCODINGS, MAX_PIXEL_BYTES, decode_pixels, encode_pixels

ROOT = Path(__file__).resolve().parents[1]
EMOJI = " The cat 🐱 sat on the mat 🎉 and smiled 😀."


@pytest.fixture(scope="module")
def strips(wikitext) -> dict[str, list[np.ndarray]]:
    """Real renders per mode: a full strip, a short one with a long white tail, and odd-shaped edge cases."""
    full = " ".join(wikitext)[:1300]
    short = wikitext[0][:120]
    gray, rgb = TextRenderer(RenderConfig()), TextRenderer(preset("pixel-rgb"))
    bin16, bin8 = TextRenderer(RenderConfig(mode="binary")), TextRenderer(preset("pixar-pango"))
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (16, 320), dtype=np.uint8)
    out = {
        "gray": [gray(full).pixels, gray(short).pixels, noise, np.full((1, 1), 255, np.uint8),
                 np.zeros((5, 33), np.uint8), gray(full).pixels[:, ::-1]],  # last: a non-contiguous view
        "rgb": [rgb(full[:600] + EMOJI).pixels, rgb(short).pixels, rng.integers(0, 256, (7, 41, 3), dtype=np.uint8)],
        "binary": [bin16(full).pixels, bin8(full).pixels, bin8(short).pixels,
                   (rng.random((13, 77)) > 0.5).astype(np.uint8), np.ones((9, 1), np.uint8)],
    }
    assert (out["rgb"][0][..., 0] != out["rgb"][0][..., 1]).any(), "the rgb strip should hold colour emoji"
    return out


def cases():
    return [(e, m) for e in ENCODINGS for m in codec.MODES]


@pytest.mark.parametrize("encoding, mode", cases())
def test_round_trip_is_exact(strips, encoding, mode):
    for px in strips[mode]:
        data = encode_pixels(px, mode, encoding)
        assert isinstance(data, bytes) and len(data) > 0
        back = decode_pixels(data, encoding, mode=mode, height=px.shape[0], width=px.shape[1])
        assert back.dtype == np.uint8 and back.shape == px.shape
        assert np.array_equal(back, px)
        assert back.flags.c_contiguous and back.flags.writeable
        if mode == "binary":
            assert set(np.unique(back).tolist()) <= {0, 1}


def test_api_constants():
    assert DEFAULT_ENCODING in ENCODINGS and set(ENCODINGS) == {"png", "pxz"}
    assert all("." not in e and e.isalnum() for e in ENCODINGS)


@pytest.mark.parametrize("mode", ["gray", "binary"])
def test_pxz_is_smaller_than_png_on_real_strips(strips, mode):
    """The reason pxz exists: well under 0.9x PNG's bytes on rendered text (measured ~0.54x gray, ~0.37x binary)."""
    for px in strips[mode][:2]:
        pxz, png = len(encode_pixels(px, mode, "pxz")), len(encode_pixels(px, mode, "png"))
        assert pxz <= 0.75 * png, (pxz, png)


@pytest.mark.parametrize("encoding, mode", cases())
def test_deterministic_in_process_and_across_processes(strips, tmp_path, encoding, mode):
    px = strips[mode][0]
    a, b = encode_pixels(px, mode, encoding), encode_pixels(px.copy(), mode, encoding)
    assert a == b
    np.save(tmp_path / "px.npy", px)
    code = ("import sys, hashlib, numpy as np; from pixelkit.schemas.codec import encode_pixels; "
            f"print(hashlib.sha256(encode_pixels(np.load(sys.argv[1]), {mode!r}, {encoding!r})).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "px.npy")], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == hashlib.sha256(a).hexdigest()


@pytest.mark.parametrize("mode, pil_mode", [("gray", "L"), ("rgb", "RGB"), ("binary", "1")])
def test_png_is_a_plain_png(strips, mode, pil_mode):
    from PIL import Image

    px = strips[mode][0]
    data = encode_pixels(px, mode, "png")
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG" and im.mode == pil_mode and im.size == (px.shape[1], px.shape[0])
        arr = np.array(im)
        assert not im.info.get("dpi") and "exif" not in im.info  # no metadata chunks
    if mode == "binary":
        assert np.array_equal(arr, px.astype(bool))  # bit 1 = white
    else:
        assert np.array_equal(arr, px)
    chunks, pos = [], 8
    while pos < len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        chunks.append(data[pos + 4:pos + 8])
        pos += 12 + n
    assert set(chunks) <= {b"IHDR", b"IDAT", b"IEND"}, chunks  # no tIME / tEXt: bytes do not depend on the clock


def test_pxz_header_describes_the_payload(strips):
    px = strips["gray"][0]
    data = encode_pixels(px, "gray", "pxz")
    magic, version, mode_code, flags, h, w = struct.unpack_from("<3sBBBII", data)
    assert (magic, version, mode_code, flags, (h, w)) == (b"PXZ", 1, 1, 0, px.shape)
    assert zstandard.get_frame_parameters(data[14:]).content_size == px.size


# -- refusals: encode ---------------------------------------------------------------------------------------
GRAY = np.full((16, 64), 255, np.uint8)


@pytest.mark.parametrize("pixels, mode, encoding, match", [
    (GRAY.astype(np.float32), "gray", "pxz", "uint8"),
    (GRAY.astype(np.uint16), "gray", "png", "uint8"),
    (GRAY.astype(bool), "binary", "pxz", "uint8"),
    (GRAY.tolist(), "gray", "pxz", "numpy array"),
    (np.zeros((16, 64, 3), np.uint8), "gray", "pxz", "shape"),
    (GRAY, "rgb", "pxz", "shape"),
    (np.zeros((16, 64, 4), np.uint8), "rgb", "png", "shape"),
    (np.zeros((16, 0), np.uint8), "gray", "pxz", "width"),
    (np.zeros((0, 16), np.uint8), "binary", "png", "height"),
    (GRAY, "binary", "pxz", "0 or 1"),
    (np.eye(8, dtype=np.uint8) * 2, "binary", "png", "0 or 1"),
    (GRAY, "grey", "pxz", "mode"),
    (GRAY, "gray", "jpg", "encoding"),
    (GRAY, "gray", "pxz.zst", "encoding"),
    (np.zeros((1 << 14, 1 << 13), np.uint8), "gray", "pxz", "MAX_PIXEL_BYTES"),
])
def test_encode_refuses(pixels, mode, encoding, match):
    with pytest.raises(ValueError, match=match):
        encode_pixels(pixels, mode, encoding)


# -- refusals: decode ---------------------------------------------------------------------------------------
def dec(data, encoding="pxz", mode="gray", height=16, width=8464, into=False):
    out = np.full(height * width * 3 + 7, 9, dtype=np.uint8) if into else None  # a reused, dirty buffer
    return decode_pixels(data, encoding, mode=mode, height=height, width=width, out=out)


@pytest.mark.parametrize("encoding, mode", cases())
def test_decoding_into_a_reused_buffer_gives_the_same_pixels(strips, encoding, mode):
    """``out=``: the trainer's path. Same pixels, a view of the buffer (no copy of its own), any memory order."""
    buf = np.full(max(p.size for p in strips[mode]) + 5, 7, dtype=np.uint8)
    for px in strips[mode]:
        back = decode_pixels(encode_pixels(px, mode, encoding), encoding, mode=mode, height=px.shape[0],
                             width=px.shape[1], out=buf)
        assert np.array_equal(back, px) and back.shape == px.shape and np.shares_memory(back, buf)
    with pytest.raises(ValueError, match="out must be"):
        decode_pixels(encode_pixels(px, mode, encoding), encoding, mode=mode, height=px.shape[0],
                      width=px.shape[1], out=np.empty(px.size - 1, np.uint8))


@pytest.fixture(scope="module")
def payloads(strips) -> dict[str, bytes]:
    return {e: encode_pixels(strips["gray"][0], "gray", e) for e in ENCODINGS}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_decode_refuses_wrong_arguments(payloads, encoding):
    data = payloads[encoding]
    assert dec(data, encoding).shape == (16, 8464)  # the baseline decodes
    for kw, match in [(dict(encoding="jpg"), "encoding"), (dict(mode="grey"), "mode"),
                      (dict(mode="binary"), "mode"), (dict(mode="rgb"), "mode|expected"),
                      (dict(height=8), "expected 8x8464"), (dict(width=4232), "expected 16x4232"),
                      (dict(height=0), "height"), (dict(width=-1), "width"), (dict(height=True), "height"),
                      (dict(height=16.0), "height"), (dict(height=1 << 20, width=1 << 20), "MAX_PIXEL_BYTES")]:
        with pytest.raises(ValueError, match=match):
            dec(data, **{"encoding": encoding, **kw})
    with pytest.raises(ValueError, match="bytes"):
        dec(data.decode("latin-1"), encoding)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_decode_takes_any_contiguous_byte_buffer(strips, payloads, encoding):
    data, px = payloads[encoding], strips["gray"][0]
    for buf in (bytearray(data), memoryview(data), np.frombuffer(data, np.uint8).data):
        assert np.array_equal(dec(buf, encoding), px)
    with pytest.raises(ValueError, match="contiguous"):
        dec(memoryview(data + data)[::2], encoding)


def test_decode_refuses_the_other_encoding(payloads):
    with pytest.raises(ValueError, match="not a pxz"):
        dec(payloads["png"], "pxz")
    with pytest.raises(ValueError, match="not a PNG"):
        dec(payloads["pxz"], "png")


@pytest.mark.parametrize("into", [False, True])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_decode_refuses_every_truncation(payloads, encoding, into):
    data = payloads[encoding]
    cuts = sorted({0, 1, 3, 8, 13, 14, 15, 20, 33, len(data) // 2, len(data) - 5, len(data) - 1})
    for cut in cuts:
        with pytest.raises(ValueError, match="truncated|corrupt|not a"):
            dec(data[:cut], encoding, into=into)


@pytest.mark.parametrize("into", [False, True])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_no_flipped_byte_decodes_to_wrong_pixels(strips, payloads, encoding, into):
    """Every single-byte corruption is refused (pxz: header checks + zstd checksum; png: chunk CRCs) or, for a
    few bytes zstd never reads back (e.g. weights of unused Huffman symbols), decodes to the very same pixels."""
    data, px = payloads[encoding], strips["gray"][0]
    wrong, harmless = [], []
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0xFF
        try:
            out = dec(bytes(bad), encoding, into=into)
        except ValueError:
            continue
        (harmless if np.array_equal(out, px) else wrong).append(i)
    assert not wrong, f"{len(wrong)} corrupt payloads decoded silently to other pixels, first at {wrong[:5]}"
    assert len(harmless) <= len(data) // 500, harmless


@pytest.mark.parametrize("into", [False, True])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_decode_refuses_trailing_bytes(payloads, encoding, into):
    for tail in (b"\x00" * 4, payloads[encoding][14:] if encoding == "pxz" else b"IEND"):  # pxz: a second frame
        with pytest.raises(ValueError, match="after IEND|after its frame|corrupt"):
            dec(payloads[encoding] + tail, encoding, into=into)


def test_pxz_refuses_bad_header_fields(payloads):
    data = payloads["pxz"]
    for offset, value, match in [(3, 2, "version 2"), (4, 9, "corrupt"), (5, 1, "corrupt"), (4, 3, "mode")]:
        bad = bytearray(data)
        bad[offset] = value
        with pytest.raises(ValueError, match=match):
            dec(bytes(bad))


def test_pxz_refuses_frames_it_did_not_write(strips):
    px = strips["gray"][0]
    header = encode_pixels(px, "gray", "pxz")[:14]
    raw = np.ascontiguousarray(px.T)
    no_size = zstandard.ZstdCompressor(level=3, write_checksum=True, write_content_size=False).compress(raw)
    no_sum = zstandard.ZstdCompressor(level=3, write_checksum=False).compress(raw)
    row_major_short = zstandard.ZstdCompressor(level=3, write_checksum=True).compress(px[:, :100].tobytes())
    for frame, match in [(no_size, "declares"), (no_sum, "checksum"), (row_major_short, "declares"), (b"", "corrupt")]:
        with pytest.raises(ValueError, match=match):
            dec(header + frame)


def _peak_during(fn) -> tuple[int, BaseException | None]:
    tracemalloc.start()
    err = None
    try:
        fn()
    except ValueError as e:
        err = e
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, err


def test_lying_pxz_frame_size_allocates_nothing(payloads):
    data = payloads["pxz"]
    frame = data[14:]
    params = zstandard.get_frame_parameters(frame)
    # zstd frame: magic (4), descriptor (1), [window byte if not single-segment], content size field.
    desc = frame[4]
    fcs_len = {0: 1 if desc & 0x20 else 0, 1: 2, 2: 4, 3: 8}[desc >> 6]
    assert fcs_len == 4, "this test patches a 4-byte content size field"
    at = 14 + 5 + (0 if desc & 0x20 else 1)
    bad = data[:at] + struct.pack("<I", 0xFFFF0000) + data[at + 4:]
    assert zstandard.get_frame_parameters(bad[14:]).content_size == 0xFFFF0000 != params.content_size
    peak, err = _peak_during(lambda: dec(bad))
    assert peak < 1 << 20, f"peak {peak} bytes while refusing a 4 GB claim"
    assert isinstance(err, ValueError) and "declares" in str(err)
    good_peak, err = _peak_during(lambda: dec(data))  # the measurement sees a real decode's buffers
    assert err is None and good_peak >= 16 * 8464


def test_lying_pxz_header_shape_is_refused_before_decompressing(payloads):
    data = payloads["pxz"]
    huge = data[:6] + struct.pack("<II", 1 << 16, 1 << 16) + data[14:]
    peak, err = _peak_during(lambda: dec(huge))
    assert isinstance(err, ValueError) and "65536x65536" in str(err)
    peak2, err2 = _peak_during(lambda: dec(huge, height=1 << 16, width=1 << 16))
    assert isinstance(err2, ValueError) and "MAX_PIXEL_BYTES" in str(err2)
    assert max(peak, peak2) < 1 << 20


def _png_with_ihdr(data: bytes, width: int, height: int) -> bytes:
    ihdr = bytearray(data[12:29])  # type + 13 data bytes
    struct.pack_into(">II", ihdr, 4, width, height)
    return data[:12] + bytes(ihdr) + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]


def test_lying_png_header_allocates_nothing(payloads):
    data = payloads["png"]
    for w, h in [(8464, 1 << 20), (1 << 30, 16), (8465, 16)]:
        bad = _png_with_ihdr(data, w, h)
        peak, err = _peak_during(lambda: dec(bad, "png"))
        assert isinstance(err, ValueError), (w, h)
        assert peak < 4 << 20, f"peak {peak} bytes for a PNG claiming {w}x{h}"


def test_png_of_another_image_mode_is_refused(strips):
    from PIL import Image

    px = strips["gray"][0]
    for pil_mode in ("LA", "P", "RGBA", "I;16"):
        buf = io.BytesIO()
        Image.fromarray(px).convert(pil_mode).save(buf, format="PNG")
        with pytest.raises(ValueError, match="image mode"):
            dec(buf.getvalue(), "png")


# -- the format is frozen: payloads written today decode the same forever, and encode to the same bytes -------
def _golden_arrays() -> dict[str, np.ndarray]:
    y, x = np.mgrid[0:6, 0:40]
    gray = np.where((x * 7 + y * 3) % 11 < 4, 0, 255).astype(np.uint8)
    gray[2, 5:9] = [17, 99, 180, 254]
    return {"gray": gray, "binary": (gray > 127).astype(np.uint8),
            "rgb": np.stack([gray, gray[::-1], 255 - gray], axis=-1)}


GOLDEN_PXZ = {  # pxz v1 payloads of _golden_arrays(), written by zstandard 0.25.0
    "gray": "50585a010100060000002800000028b52ffd24f05d0100880000ffff00ff00ff00ff1163ffb4fffe000c002b40001a00b9203008"
            "04c15c4e801d30065ac0ba0bae086abe0534",
    "binary": "50585a010300060000002800000028b52ffd2428cd00009834d86cb0dc4498ec7498ec34d86cb0dc64b8cc0100fd95"
              "304dd05796",
    "rgb": "50585a010200060000002800000028b52ffd64d00175030064020000ffff00ff00ff00ff1163ffb4fffe00ff00001163b4fe00ff"
           "ff00ff000000ee9c004b000125205083cc240f9b44010cf0223c60986163d78a874081983b01bcc6a0400b0a02cac5b1429372930b"
           "c8b16fb7099881af03600158041b941b78a006f3093bc65af8ba0bac087d4125e4",
}


@pytest.mark.parametrize("mode", codec.MODES)
def test_golden_pxz_payloads_decode_and_encode_unchanged(mode):
    px = _golden_arrays()[mode]
    golden = bytes.fromhex(GOLDEN_PXZ[mode])
    assert np.array_equal(dec(golden, "pxz", mode, 6, 40), px)  # old shards stay readable
    assert encode_pixels(px, mode, "pxz") == golden, "pxz bytes changed: shard hashes and dedup keys would move"


def test_codec_imports_pillow_only_for_png():
    code = ("import sys, numpy as np; from pixelkit.schemas.codec import encode_pixels, decode_pixels; "
            "a = np.full((16, 32), 255, np.uint8); decode_pixels(encode_pixels(a, 'gray', 'pxz'), 'pxz', mode='gray', "
            "height=16, width=32); print('PIL' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("mode", ["gray", "binary"])
def test_column_ordered_strips_encode_to_the_same_bytes(strips, mode):
    """The Pango renderer hands out gray/binary strips Fortran-ordered (pango/columns.py); pxz compresses their
    transpose without a copy, to the bytes a C-ordered copy of the same pixels gives."""
    for px in strips[mode]:
        c, f = np.ascontiguousarray(px), np.asfortranarray(px)
        assert encode_pixels(f, mode, "pxz") == encode_pixels(c, mode, "pxz")
        assert encode_pixels(f, mode, "png") == encode_pixels(c, mode, "png")
    assert strips["gray"][0].flags.f_contiguous, "Pango's gray strips come column-ordered"
