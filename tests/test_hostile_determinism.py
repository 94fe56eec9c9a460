"""Hostile text in many scripts through ``pixel-render run`` on one worker and on two: the same shards, manifest
counts and dead letters, byte for byte (what results/udhr_modes.md records for the whole UDHR). The records read
add up to written + skipped + dead-lettered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixelkit.pipeline.main import run

SAMPLE = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"
HOSTILE = ["a" + "\u0301" * 500 + " Zalgo", "\U0001F469\u200D" * 200 + "\U0001F469", "\u202Eabc \u202Bdef",
           "lone \ud800 surrogate", "nul \x00 and \x1b[31m controls\x85", "\u200b\u200d\ufeff", "\u3000\u2003 ",
           "\t\ttabs\u2028and\u2029separators", "\u1820\u1821\u1822 \u0f40\u0fb1\u0fb2", "क्ष त्र ज्ञ 漢字 😀"]


@pytest.mark.parametrize("preset", ["pixel", "pixar"])
def test_hostile_multiscript_text_is_byte_identical_on_one_and_two_workers(tmp_path, preset):
    udhr = [json.loads(line) for line in (SAMPLE / "udhr-excerpt.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = ["\n".join(u["paragraphs"][:3]) for u in udhr] + HOSTILE  # 14 languages in 11 scripts, then the hostile
    web = tmp_path / "hostile.jsonl"
    web.write_text("".join(json.dumps({"id": f"h{i}", "text": t}) + "\n" for i, t in enumerate(texts))
                   + '{"id": "broken", "text": "unterminated\n', encoding="utf-8")
    runs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        m = run([f"--input=web={web}", f"--output={out}",
                 f"--preset={preset}", "--max_patches=64", "--samples_per_shard=16", f"--workers={workers}"])
        runs.append((m, (out / "dead_letters.jsonl").read_bytes()))
    (m1, dead1), (m2, dead2) = runs
    assert [s.sha256 for s in m1.shards] == [s.sha256 for s in m2.shards] and m1.num_samples > 0
    assert m1.counts == m2.counts and dead1 == dead2 and b"invalid_json" in dead1
    c = m1.counts
    assert c["documents_written"] >= 7 and c["skipped_empty_text"] == 2 and c["skipped_too_wide"] == 1, c
    assert c["records_read"] == c["documents_written"] + sum(v for k, v in c.items()
                                                             if k.startswith(("skipped_", "dead_")) and ":" not in k)
