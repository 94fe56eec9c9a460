"""A private fontconfig configuration holding only the pinned font files.

System fonts never leak into a render: Pango's font map gets an ``FcConfig`` of its own, built from
``RenderConfig.font_files()`` and a fixed rendering policy (antialias on, slight hinting, grayscale, no
LCD filtering), so the same fonts give the same pixels on every machine. Nothing here touches the
process-wide fontconfig state or reads the user's or the system's fonts.conf.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from cffi import FFI

_ffi = FFI()
_ffi.cdef(
    """
    typedef struct _FcConfig FcConfig;
    typedef struct _FcPattern FcPattern;
    typedef struct { int nfont; int sfont; FcPattern **fonts; } FcFontSet;
    FcConfig *FcConfigCreate(void);
    void FcConfigDestroy(FcConfig *config);
    int FcConfigAppFontAddFile(FcConfig *config, const char *file);
    int FcConfigParseAndLoadFromMemory(FcConfig *config, const char *buffer, int complain);
    FcFontSet *FcConfigGetFonts(FcConfig *config, int set);
    int FcPatternGetString(const FcPattern *p, const char *object, int n, char **s);
    void pango_fc_font_map_set_config(void *fcfontmap, FcConfig *fcconfig);
    """
)

# The rendering policy every machine gets (Debian's defaults, written down instead of inherited from /etc/fonts).
POLICY_XML = b"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <match target="pattern">
    <edit name="antialias" mode="assign"><bool>true</bool></edit>
    <edit name="hinting" mode="assign"><bool>true</bool></edit>
    <edit name="hintstyle" mode="assign"><const>hintslight</const></edit>
    <edit name="autohint" mode="assign"><bool>false</bool></edit>
    <edit name="rgba" mode="assign"><const>none</const></edit>
    <edit name="lcdfilter" mode="assign"><const>lcddefault</const></edit>
  </match>
  <!-- bitmap-only fonts (colour emoji: outline=false) are scaled to the requested pixel size -->
  <match target="font">
    <test name="outline" compare="eq"><bool>false</bool></test>
    <edit name="pixelsizefixupfactor" mode="assign">
      <divide><name target="pattern">pixelsize</name><name target="font">pixelsize</name></divide>
    </edit>
  </match>
  <match target="font">
    <test name="outline" compare="eq"><bool>false</bool></test>
    <edit name="matrix" mode="assign">
      <times><name>matrix</name>
        <matrix><name>pixelsizefixupfactor</name><double>0</double><double>0</double><name>pixelsizefixupfactor</name></matrix>
      </times>
    </edit>
  </match>
</fontconfig>
"""

_FC_SET_APPLICATION = 1


@lru_cache(maxsize=1)
def _libs():
    fc = _ffi.dlopen("libfontconfig.so.1")
    pangoft2 = _ffi.dlopen("libpangoft2-1.0.so.0")
    return fc, pangoft2


def address(ptr, src_ffi) -> int:
    """The integer address of a cffi pointer from any FFI instance (to pass it between bindings)."""
    return int(src_ffi.cast("uintptr_t", ptr))


class PrivateFontConfig:
    """An FcConfig with exactly ``files``; ``families`` lists their family names, primary first."""

    def __init__(self, files: list[Path]):
        fc, _ = _libs()
        self._fc = fc
        self.ptr = fc.FcConfigCreate()
        if self.ptr == _ffi.NULL:
            raise RuntimeError("FcConfigCreate failed")
        if not fc.FcConfigParseAndLoadFromMemory(self.ptr, POLICY_XML, 1):
            raise RuntimeError("could not load pixelkit's fontconfig policy")
        self.families: list[str] = []
        for path in files:
            before = self._count()
            if not fc.FcConfigAppFontAddFile(self.ptr, str(path).encode()):
                raise RuntimeError(f"fontconfig could not load font file {path}")
            for family in self._families(before):
                if family not in self.families:
                    self.families.append(family)
        if not self.families:
            raise RuntimeError(f"no usable font faces in {files}")

    def _count(self) -> int:
        fonts = self._fc.FcConfigGetFonts(self.ptr, _FC_SET_APPLICATION)
        return 0 if fonts == _ffi.NULL else fonts.nfont

    def _families(self, start: int) -> list[str]:
        fonts = self._fc.FcConfigGetFonts(self.ptr, _FC_SET_APPLICATION)
        out = []
        value = _ffi.new("char **")
        for i in range(start, fonts.nfont):
            if self._fc.FcPatternGetString(fonts.fonts[i], b"family", 0, value) == 0:  # FcResultMatch
                out.append(_ffi.string(value[0]).decode())
        return out

    def attach(self, fontmap_address: int) -> None:
        """Make a Pango fontconfig font map (given by address) use this configuration."""
        _, pangoft2 = _libs()
        pangoft2.pango_fc_font_map_set_config(_ffi.cast("void *", fontmap_address), self.ptr)
