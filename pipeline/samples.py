"""Pure: a rendered chunk becomes a schema sample (or a ``Skipped`` with its reason). The DoFn in transforms.py is a thin shell."""

from __future__ import annotations

from dataclasses import dataclass

from pixelkit.schemas import RenderedSample, encode_pixels, make_key

from .documents import Skipped, TextChunk
from .render import RenderConfig, Renderer, RenderResult


# A chunk more than half tofu is skipped (``too_much_tofu``). Measured on all 532 UDHR languages: a language
# whose script the font has shows at most 18% tofu (missing diacritics: Vietnamese 4% with PixeloidSans,
# vi-Hani 18% with GoNoto), one whose script it lacks at least 61% (Hindi, Arabic, Chinese with PixeloidSans:
# 79-99%). 0.5 sits in that gap: text with a few boxes is kept, text the font cannot write is not.
DEFAULT_MAX_UNKNOWN_RATIO = 0.5


@dataclass(frozen=True)
class Filters:
    min_patches: int = 0  # chunks with fewer text patches are skipped (PIXEL dropped those under 22)
    max_unknown_ratio: float = DEFAULT_MAX_UNKNOWN_RATIO  # skip chunks whose tofu / characters exceeds this


def chunk_key(chunk: TextChunk) -> str:
    return make_key(chunk.source, chunk.doc_id, chunk.index)


def render_chunk(chunk: TextChunk, renderer: Renderer, cfg: RenderConfig, encoding: str, filters: Filters,
                 tokenizer=None) -> RenderedSample | Skipped:
    """The sample for ``chunk``, or why it was skipped (``render_error``, ``too_wide``, ``too_short``,
    ``too_much_tofu`` ...)."""
    return render_chunk_result(chunk, renderer, cfg, encoding, filters, tokenizer)[0]


def render_chunk_result(chunk: TextChunk, renderer: Renderer, cfg: RenderConfig, encoding: str, filters: Filters,
                        tokenizer=None) -> tuple[RenderedSample | Skipped, RenderResult]:
    """``render_chunk``'s outcome and the render it came from (tofu and replacement counts, kept or not)."""
    if len(chunk.text) > cfg.char_cap:  # one cluster longer than the renderer's cap (chunking.py): not laid out
        return Skipped(chunk.source, chunk.doc_id, "too_wide"), RenderResult.failed("too_wide", chunk.text)
    res = renderer.render_text(chunk.text)
    # a chunk the strip cannot hold whole is one character cluster wider than it (chunking.py): not written cut
    reason = (res.reason or "render_error" if not res.ok
              else "too_wide" if res.truncated
              else "too_short" if res.num_patches < filters.min_patches
              else "too_much_tofu" if res.unknown_glyphs > filters.max_unknown_ratio * max(1, len(res.text))
              else None)
    if reason:
        return Skipped(chunk.source, chunk.doc_id, reason), res
    return RenderedSample(
        key=chunk_key(chunk), pixels=encode_pixels(res.pixels, cfg.mode, encoding), encoding=encoding,
        mode=cfg.mode, height=cfg.height, width=cfg.width, patch_size=cfg.pixels_per_patch,
        num_patches=res.num_patches, text=res.text, source=chunk.source, doc_id=chunk.doc_id,
        chunk_index=chunk.index, unknown_glyphs=res.unknown_glyphs, truncated=res.truncated,
        sep_patches=list(res.sep_patches),
        token_ids=tokenizer.encode(res.text).ids if tokenizer is not None else None, replaced_chars=res.replaced_chars,
    ), res
