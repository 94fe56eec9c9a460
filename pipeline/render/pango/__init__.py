"""The PangoCairo backend's internals, behind the renderer contract (``pangocairo.PangoCairoRenderer``):

| module | what |
|---|---|
| `fontconfig.py` | a private fontconfig configuration holding only the pinned fonts, with a fixed rendering policy |
| `pango_abi.py` | Pango's public glyph structs and the itemize / shape / show-glyphs calls through our own cffi binding |
| `spacecheck.py` | does a font shape each space-separated word the same wherever it stands? (the cache's premise) |
| `scriptgate.py` | before any shaping: can the cache compose this strip at all? |
| `brackets.py` | mixed left-to-right strips: do Pango's script runs, paired punctuation followed, split no word and match the runs without pairs? |
| `shapecache.py` | words shaped once, glyph masks drawn once, strips composed from them (Pango's exact pixels) |
| `rtl.py` | right-to-left strips (Arabic, Hebrew): words composed in reverse order, and why that is Pango's layout |
| `rtlmix.py` | right-to-left strips with Latin words and numbers: pieces in Pango's visual order, from Pango's own bidi levels |
| `rtllayout.py` | `rtlmix.py`'s compiled kernels: pieces and spaces of a strip, its visual line (rule L2), no two runs inking one pixel |
| `words.py` | the cache's words: where a word may be cut, and which words of a strip its shaping batch holds |
| `glyphs.py` | glyph masks: each glyph drawn once by cairo as Pango draws it, cropped by a compiled kernel |
| `tables.py` | the cache's growable tables |
| `kernels.py` | the shaping cache's compiled (numba) kernels |

Nothing outside the backend imports them but the ``fontcheck`` command (``spacecheck``) and their tests.
"""
