"""Per-source render statistics in a manifest's ``counts`` (``f"{stat}:{source}"`` keys, summed by
``transforms.Render(stats=True)``): tofu rates, replaced characters, and the warnings they call for. Pure; no Beam."""

from __future__ import annotations

# unshaped_chars: drawn by a backend without a shaper (PyGame) otherwise than a shaper would (render/text.py
# needs_shaping); only ever non-zero there, and (as every stat but chars_rendered) only in the counts when non-zero
STATS = ("chars_rendered", "tofu_chars", "replaced_chars", "unshaped_chars")
TOFU_WARN = 0.01  # a source with more than 1 character in 100 drawn as tofu gets a warning


def result_stats(source: str, results) -> list[tuple[str, int]]:
    """The ``(f"{stat}:{source}", n)`` pairs of some RenderResults (characters of those drawn, tofu, replaced and
    unshaped characters of all), as ``transforms.Render(stats=True)`` sums them per chunk: the task job's per record."""
    sums = [sum(len(r.text) for r in results if r.ok), sum(r.unknown_glyphs for r in results),
            sum(r.replaced_chars for r in results), sum(r.unshaped_chars for r in results)]
    return [(f"{name}:{source}", n) for name, n in zip(STATS, sums) if n or name == "chars_rendered"]


def source_stats(counts: dict[str, int]) -> dict[str, dict[str, int]]:
    """{source: {stat: n}} for every source that had a chunk rendered; missing stats are 0."""
    out: dict[str, dict[str, int]] = {}
    for key, n in counts.items():
        stat, sep, source = key.partition(":")
        if sep and stat in STATS:
            out.setdefault(source, dict.fromkeys(STATS, 0))[stat] = int(n)
    return dict(sorted(out.items()))


def chunk_skips(counts: dict[str, int]) -> dict[str, int]:
    """Rendered chunks skipped, by reason, over all sources (``chunks_skipped_<reason>:<source>`` keys): the
    accounting is per document, and a document with one chunk written counts as written, so a chunk skipped
    inside it (too much tofu, too few patches, a duplicate under ``--dedup``) is only counted here."""
    out: dict[str, int] = {}
    for key, n in counts.items():
        stat, sep, _ = key.partition(":")
        if sep and stat.startswith("chunks_skipped_"):
            out[stat] = out.get(stat, 0) + int(n)
    return dict(sorted(out.items()))


def outcome_counts(counts: dict[str, int]) -> dict[str, int]:
    """The accounting counts (records read, written, skipped_*, dead_*) without the per-source stats."""
    return {k: v for k, v in sorted(counts.items()) if ":" not in k}


def tofu_rate(stats: dict[str, int]) -> float:
    return stats["tofu_chars"] / max(1, stats["chars_rendered"])


def tofu_warnings(counts: dict[str, int], threshold: float = TOFU_WARN, task: bool = False) -> list[str]:
    """One line per source whose tofu rate passes ``threshold``. Only what the counts show: the run's
    ``skipped_too_much_tofu`` is over all sources, and the font that was used is not in them, so no line claims
    that this source's chunks were skipped or that a given preset would help. ``task``: counts of the task job,
    which has no tofu filter (every record is written; each sample records its unknown_glyphs)."""
    skipped = counts.get("skipped_too_much_tofu", 0)
    kept = ("the task job has no tofu filter: every record is written, each sample with its unknown_glyphs" if task
            else f"chunks more tofu than --max_unknown_ratio are skipped ({skipped:,} in this run, all sources: "
                 f"skipped_too_much_tofu)")
    return [f"source {src!r}: {tofu_rate(st):.1%} of its {st['chars_rendered']:,} characters rendered as tofu (characters "
            f"the fonts lack: a script, emoji, private-use or unassigned code points); {kept}. A font "
            f"that has them: --font or --fallback_fonts_dir (GoNoto, --preset pixel's font, has most scripts; "
            f"--preset pixel-rgb adds color emoji)"
            for src, st in source_stats(counts).items() if tofu_rate(st) > threshold]


def shaping_warnings(counts: dict[str, int]) -> list[str]:
    """One line per source with characters drawn unshaped (the PyGame backend on scripts that need a shaper)."""
    return [f"source {src!r}: {st['unshaped_chars']:,} of its {st['chars_rendered']:,} characters were drawn "
            f"unshaped by the pygame backend, which has no shaper or bidi (right-to-left letters left to right and "
            f"unjoined, combining marks by their advance: no conjuncts, reordering or mark placement); "
            f"--backend pangocairo shapes them"
            for src, st in source_stats(counts).items() if st["unshaped_chars"]]


def render_warnings(counts: dict[str, int], task: bool = False) -> list[str]:
    """Every per-source warning of a run (``task``: of a task job's split): tofu, then unshaped characters."""
    return tofu_warnings(counts, task=task) + shaping_warnings(counts)


def stats_rows(counts: dict[str, int]) -> list[tuple[str, int, int, str, int]]:
    """(source, characters rendered, tofu, tofu share, replaced) per source."""
    return [(src, st["chars_rendered"], st["tofu_chars"], f"{tofu_rate(st):.2%}", st["replaced_chars"])
            for src, st in source_stats(counts).items()]
