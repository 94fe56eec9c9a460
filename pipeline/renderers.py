"""The renderer chunking and rendering share, as an explicit object. Beam-free.

Chunking measures each document with the renderer that will draw its chunks, so every word of a chunk is already
shaped (the shaping cache is warm) when the chunk is rendered. ``Render`` builds one ``SharedRenderer`` and hands
it to ``ChunkFn`` and ``RenderFn``; Beam pickles each DoFn on its own, so the object carries only the config and
the factory, and ``get()`` returns the one renderer of that (config, factory) in the calling thread -- the same
for both DoFns when they run fused in one worker. Per thread because a renderer is not thread-safe; asked for on
every bundle because Beam may hand a DoFn's bundles to different threads.

    shared = SharedRenderer(cfg)                      # or SharedRenderer(cfg, factory) in tests
    ChunkFn(cfg, renderer=shared); RenderFn(cfg, ..., renderer=shared)
    r = shared.get()                                  # inside process()
"""

from __future__ import annotations

import threading
from typing import Callable

from .render import RenderConfig, Renderer, TextRenderer

_local = threading.local()


class SharedRenderer:
    def __init__(self, cfg: RenderConfig, factory: Callable[[RenderConfig], Renderer] = TextRenderer):
        self.cfg, self.factory = cfg, factory

    def get(self) -> Renderer:
        renderers = _local.__dict__.setdefault("renderers", {})
        key = (self.cfg, self.factory)
        r = renderers.get(key)
        if r is None:
            r = renderers[key] = self.factory(self.cfg)
        return r

    def __eq__(self, other) -> bool:
        return isinstance(other, SharedRenderer) and (self.cfg, self.factory) == (other.cfg, other.factory)

    def __hash__(self) -> int:
        return hash((self.cfg, self.factory))

    def __repr__(self) -> str:
        return f"SharedRenderer({self.cfg.backend}, {self.cfg.mode}, {getattr(self.factory, '__name__', self.factory)})"


def shared_renderer(cfg: RenderConfig) -> Renderer:
    """``SharedRenderer(cfg).get()``: this thread's default renderer for ``cfg`` (the task job's DoFn uses it)."""
    return SharedRenderer(cfg).get()
