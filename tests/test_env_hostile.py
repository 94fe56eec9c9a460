"""A hostile environment around the commands: paths holding shell and glob characters, a non-UTF-8 locale."""

from __future__ import annotations

from pathlib import Path

from conftest import make_shard_set


def test_a_shard_set_directory_named_with_braces_is_read_as_a_directory(tmp_path, wikitext):
    """`--data 'out/{a,b}/pos'` (a directory that exists, its name holding a brace) was brace-expanded into
    out/a/pos and out/b/pos: '2 shard(s) missing'; an existing path is now taken as it is, a pattern still expands."""
    from pixelkit.trainer.shardsets import resolve

    d = make_shard_set(tmp_path / "корпус #1 %s [a] {b,c}" / "train", "pixar", wikitext[:4], None, n_shards=2)
    s = resolve(str(d))
    assert [Path(u).name for u in s.urls] == ["train-00000-of-00002.tar", "train-00001-of-00002.tar"]
    assert s.manifest is not None and s.num_samples == 4
    shard = d / "train-00000-of-00002.tar"
    assert resolve(str(shard)).urls == [str(shard)]
    plain = make_shard_set(tmp_path / "plain", "pixar", wikitext[:4], None, n_shards=2)
    pattern = resolve(str(plain / "train-{00000..00001}-of-00002.tar"))  # a pattern still expands
    assert [Path(u).name for u in pattern.urls] == ["train-00000-of-00002.tar", "train-00001-of-00002.tar"]
