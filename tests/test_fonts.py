"""Pinned fonts match their manifest, and renders see only them (no system font leaks in)."""

from __future__ import annotations

import hashlib
import json

import pytest

from pixelkit.pipeline.render import RenderConfig, TextRenderer
from pixelkit.pipeline.render.config import fonts_dir
from pixelkit.pipeline.render.pango.fontconfig import PrivateFontConfig


def test_font_files_match_manifest():
    manifest = json.loads((fonts_dir() / "MANIFEST.json").read_text())["fonts"]
    on_disk = {p.name for p in fonts_dir().glob("*.ttf")}
    assert on_disk == set(manifest)
    for name, entry in manifest.items():
        data = (fonts_dir() / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert entry["license"] == "OFL-1.1"
    assert (fonts_dir() / "OFL-1.1.txt").read_text().startswith("Copyright") or "OPEN FONT LICENSE" in (
        fonts_dir() / "OFL-1.1.txt").read_text().upper()


def test_private_config_holds_only_the_given_fonts():
    cfg = PrivateFontConfig([fonts_dir() / "PixeloidSans.ttf"])
    assert cfg.families == ["Pixeloid Sans"]


def test_system_fonts_never_fill_in(tmp_path):
    # PixeloidSans has Latin and Cyrillic but no Hebrew or Han; the machine's fonts (e.g. DejaVu, which has
    # Hebrew) must not be used as a fallback: those characters stay tofu.
    r = TextRenderer(RenderConfig(font_file="PixeloidSans.ttf"))
    assert r("Hello").unknown_glyphs == 0
    assert r("\u05e9\u05dc\u05d5\u05dd").unknown_glyphs == 4
    assert r("\u4e2d\u6587").unknown_glyphs == 2


def test_fallback_dir_is_used_and_hashed(tmp_path):
    (tmp_path / "GoNotoCurrent.ttf").write_bytes((fonts_dir() / "GoNotoCurrent.ttf").read_bytes())
    cfg = RenderConfig(font_file="PixeloidSans.ttf", fallback_fonts_dir=str(tmp_path))
    assert TextRenderer(cfg)("\u05e9\u05dc\u05d5\u05dd").unknown_glyphs == 0
    assert set(cfg.to_dict()["font_sha256"]) == {"PixeloidSans.ttf", "GoNotoCurrent.ttf"}


def test_unusable_font_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.ttf"
    bad.write_bytes(b"not a font at all")
    with pytest.raises(RuntimeError, match="could not load font file"):
        TextRenderer(RenderConfig(font_file=str(bad)))("x")
