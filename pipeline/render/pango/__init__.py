"""The PangoCairo backend's internals, behind the renderer contract (``pangocairo.PangoCairoRenderer``):

| module | what |
|---|---|
| `fontconfig.py` | a private fontconfig configuration holding only the pinned fonts, with a fixed rendering policy |
| `pango_abi.py` | Pango's public glyph structs and the itemize / shape / show-glyphs calls through our own cffi binding |
| `spacecheck.py` | does a font shape each space-separated word the same wherever it stands? (the cache's premise) |
| `scriptgate.py` | before any shaping: can the cache compose this strip at all? |
| `scriptruns.py` | Pango's script iterator emulated: the runs it cuts a strip into |
| `brackets.py` | mixed left-to-right strips: do Pango's script runs, paired punctuation followed, match the runs without pairs? where do runs cut words? |
| `shapecache.py` | words shaped once, glyph masks drawn once, strips composed from them (Pango's exact pixels) |
| `rtl.py` | right-to-left strips (Arabic, Hebrew): words composed in reverse order, and why that is Pango's layout |
| `adopt.py` | the first pass: compose a strip, or let Pango draw it and keep the words its layout shaped |
| `classes.py` | the cache's classes: one per (font, script, language) item, with its anchor, space and baseline |
| `cjk.py` | Han, kana and Bopomofo strips: cut into tokens, composed token by token |
| `cjkcheck.py` | which CJK characters a font shapes the same whatever stands beside them (cjk.py's premise) |
| `cjkglyph.py` | new proven Han/kana characters' and Hangul words' glyph records written, not shaped |
| `cjkwrite.py` | `cjkglyph.py`'s write in one compiled pass: which words can be written, their glyph string and bytes |
| `mixbatch.py` | the batch that shapes a mixed strip's new words, in compiled passes |
| `wordtable.py` | a compiled copy of the word ids: a strip of known words looked up in one kernel |
| `wordruns.py` | word lists laid out and painted by one kernel |
| `columns.py` | the gray canvas handed out in pxz's column order |
| `rtlmix.py` | right-to-left strips with Latin words and numbers: pieces in Pango's visual order, from Pango's own bidi levels |
| `rtllayout.py` | `rtlmix.py`'s compiled kernels: pieces and spaces of a strip, its visual line (rule L2), no two runs inking one pixel |
| `words.py` | the cache's words: where a word may be cut, and which words of a strip its shaping batch holds |
| `glyphs.py` | glyph masks: each glyph drawn once by cairo as Pango draws it, cropped by a compiled kernel |
| `tables.py` | the cache's growable tables |
| `kernels.py` | the shaping cache's compiled (numba) kernels |

Nothing outside the backend imports them but the ``fontcheck`` command (``spacecheck``) and their tests.
"""
