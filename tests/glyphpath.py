"""Shared by the glyph-path tests: write batches of words with the cache's glyph path and compare each written glyph
string with the one Pango's itemize + shape gives the same batch behind the class's anchor."""

from __future__ import annotations

import numpy as np


def written_equal_pangos(cache, key, cls: int, script: int, batches) -> int:
    """Write each batch (its eligible, distinct words; those with a unit or pair not learned yet go to Pango, as in
    the cache) and assert the glyph string equals Pango's; the number of words written."""
    shaper = cache._glyph
    written = 0
    for batch in batches:
        batch = shaper.eligible(list(dict.fromkeys(batch)), script)
        data = (" ".join(batch) + " ").encode("utf-8")
        item = shaper.write(cls, script, np.frombuffer(data, np.uint8), key[0], key[2])
        if isinstance(item, set):
            batch = [w for k, w in enumerate(batch) if k not in item]
            data = (" ".join(batch) + " ").encode("utf-8")
            item = shaper.write(cls, script, np.frombuffer(data, np.uint8), key[0], key[2])
        if not batch:
            continue
        anchor = (cache._cls_anchor[cls] + " ").encode("utf-8")
        items = cache._shape(anchor + data)
        assert len(items) == 1 and (items[0].font, items[0].script, items[0].language) == key
        want = items[0].glyphs.copy()
        want[:, 4] &= 3
        start = np.flatnonzero(items[0].clusters >= len(anchor))[0]
        assert np.array_equal(item.glyphs, want[start:]), batch
        assert np.array_equal(item.clusters, items[0].clusters[start:] - len(anchor)), batch
        written += len(batch)
    return written
