"""pixelkit.trainer.tars: libarchive reads what the pipeline writes, exactly as Python's tarfile sees it, and treats
every member name and size as untrusted input."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest
import webdataset as wds

from pixelkit.trainer import tars
from pixelkit.trainer.data import SkipCounter, decode


def _members(path) -> list[tuple[str, bytes]]:
    with tarfile.open(path) as tf:
        return [(m.name, tf.extractfile(m).read()) for m in tf.getmembers() if m.isreg()]


def _tar(path, entries, fmt=tarfile.PAX_FORMAT) -> None:
    """entries: (name, bytes) regular files, or (name, TarInfo type, linkname) for anything else."""
    with tarfile.open(path, "w", format=fmt) as tf:
        for e in entries:
            info = tarfile.TarInfo(e[0])
            if len(e) == 2:
                info.size = len(e[1])
                tf.addfile(info, io.BytesIO(e[1]))
            else:
                info.type, info.linkname = e[1], e[2]
                tf.addfile(info)


def _grouped(members):
    out: dict[str, dict] = {}
    for name, data in members:
        key, _, ext = name.partition(".")
        out.setdefault(key, {"__key__": key})[ext] = data
    return list(out.values())


def test_same_samples_and_bytes_as_tarfile_and_webdataset(gray_shards):
    urls = sorted(str(p) for p in gray_shards.glob("*.tar"))
    skips = SkipCounter()
    ours = [{k: v for k, v in s.items() if k != "__url__"} for s in tars.samples(urls, skips)]
    theirs = [{k: v for k, v in s.items() if not k.startswith("__") or k == "__key__"}
              for s in wds.tarfile_samples({"url": u} for u in urls)]
    expected = [s for u in urls for s in _grouped(_members(u))]
    assert ours == theirs == expected and len(ours) > 10 and not skips.counts
    assert all(decode(s, skips) is not None for s in ours)


def test_untrusted_members_are_skipped_and_counted(tmp_path, gray_shards):
    good = _grouped(_members(sorted(gray_shards.glob("*.tar"))[0]))[:2]
    a, b = good
    entries = [(f"{a['__key__']}.{ext}", data) for ext, data in a.items() if ext != "__key__"]
    entries += [
        ("../evil.json", b"{}"),  # a path out of the directory
        ("dir/k_1.json", b"{}"),  # any path
        (".hidden.json", b"{}"),
        ("k_2.pyd", b"\x80\x04."),  # a pickle extension: never a field of ours
        ("k_3.json", tarfile.SYMTYPE, "/etc/passwd"),  # links and directories are not followed
        ("k_4.json", tarfile.LNKTYPE, "k_1.json"),
        ("somedir", tarfile.DIRTYPE, ""),
    ]
    entries += [(f"{b['__key__']}.{ext}", data) for ext, data in b.items() if ext != "__key__"]
    path = tmp_path / "x.tar"
    _tar(path, entries)
    skips = SkipCounter()
    out = list(tars.samples([str(path)], skips))
    assert [s["__key__"] for s in out] == [a["__key__"], b["__key__"]]
    assert skips.counts == {"SchemaError": 7}


def test_a_sample_with_a_repeated_member_is_dropped_whole(tmp_path, gray_shards):
    a, b = _grouped(_members(sorted(gray_shards.glob("*.tar"))[0]))[:2]
    entries = [(f"{a['__key__']}.json", a["json"]), (f"{a['__key__']}.json", a["json"]),
               (f"{a['__key__']}.txt", a["txt"])]
    entries += [(f"{b['__key__']}.{ext}", data) for ext, data in b.items() if ext != "__key__"]
    path = tmp_path / "x.tar"
    _tar(path, entries)
    skips = SkipCounter()
    assert [s["__key__"] for s in tars.samples([str(path)], skips)] == [b["__key__"]]
    assert skips.counts == {"SchemaError": 1}


def test_oversized_member_is_skipped(tmp_path, monkeypatch, gray_shards):
    a, b = _grouped(_members(sorted(gray_shards.glob("*.tar"))[0]))[:2]
    path = tmp_path / "x.tar"
    _tar(path, [(f"{s['__key__']}.{ext}", d) for s in (a, b) for ext, d in s.items() if ext != "__key__"])
    monkeypatch.setattr(tars, "MAX_MEMBER_BYTES", min(len(a["pxz"]), len(b["pxz"])) - 1)
    skips = SkipCounter()
    out = list(tars.samples([str(path)], skips))
    assert out == [] and skips.counts == {"SchemaError": 2}, "a refused member takes its sample along (one count)"


def test_truncated_shard_keeps_every_complete_sample_and_drops_the_cut_one(tmp_path, gray_shards):
    src = sorted(gray_shards.glob("*.tar"))[0]
    with tarfile.open(src) as tf:
        infos = [m for m in tf.getmembers() if m.isreg()]
    cut = infos[3 * 4 + 2].offset_data + 100  # inside the 5th sample's last member
    bad = tmp_path / "cut.tar"
    bad.write_bytes(src.read_bytes()[:cut])
    skips = SkipCounter()
    out = list(tars.samples([str(bad), str(src)], skips))
    n_src = len(_grouped(_members(src)))
    assert len(out) == 4 + n_src, "4 complete samples, then the next shard in full"
    assert [s["__key__"] for s in out[:4]] == [s["__key__"] for s in _grouped(_members(src))[:4]]
    assert skips.counts == {"ArchiveError": 1}


def test_long_names_compression_and_pipe_urls(tmp_path, gray_shards):
    a = _grouped(_members(sorted(gray_shards.glob("*.tar"))[0]))[0]
    key = "k" * 200  # the longest key the schema allows: a PAX header in the tar (GNU longname: also read)
    entries = [(f"{key}.{ext}", d) for ext, d in a.items() if ext != "__key__"]
    pax, gnu, gz = tmp_path / "pax.tar", tmp_path / "gnu.tar", tmp_path / "z.tar.gz"
    _tar(pax, entries)
    _tar(gnu, entries, fmt=tarfile.GNU_FORMAT)
    gz.write_bytes(gzip.compress(pax.read_bytes(), mtime=0))
    skips = SkipCounter()
    for url in (str(pax), str(gnu), str(gz), f"pipe:cat {pax}", f"file://{pax}"):
        out = list(tars.samples([url], skips))
        assert [s["__key__"] for s in out] == [key] and out[0]["pxz"] == a["pxz"], url
    assert not skips.counts


def test_a_missing_shard_is_counted_not_fatal(tmp_path, gray_shards):
    skips = SkipCounter()
    good = sorted(str(p) for p in gray_shards.glob("*.tar"))[0]
    out = list(tars.samples([str(tmp_path / "absent.tar"), good], skips))
    assert len(out) == len(_grouped(_members(good))) and sum(skips.counts.values()) == 1


@pytest.mark.parametrize("url, path", [("/a/b.tar", "/a/b.tar"), ("file:///a/b.tar", "/a/b.tar"),
                                       ("rel/b.tar", "rel/b.tar"), ("gs://b/x.tar", None), ("pipe:cat x", None)])
def test_local_path(url, path):
    assert tars.local_path(url) == path


def test_fsspec_urls_stream_through_fsspec(gray_shards):
    """gs:// and s3:// go through fsspec (with gcsfs / s3fs installed); its in-memory filesystem stands in here."""
    import fsspec
    src = sorted(gray_shards.glob("*.tar"))[0]
    fs = fsspec.filesystem("memory")
    fs.pipe("/pixelkit-test/train-00000.tar", src.read_bytes())
    try:
        skips = SkipCounter()
        out = list(tars.samples(["memory://pixelkit-test/train-00000.tar"], skips))
        assert [s["pxz"] for s in out] == [s["pxz"] for s in _grouped(_members(src))] and not skips.counts
        from pixelkit.schemas import ShardInfo
        listed = ShardInfo(src.name, len(out), src.stat().st_size + 1, "0" * 64)  # the size is checked remotely too
        assert len(list(tars.shard_samples("memory://pixelkit-test/train-00000.tar", skips, listed))) == len(out)
        assert skips.counts == {"shard_size": 1}
        with pytest.raises(ValueError, match="not known|not available|Protocol"):
            list(tars.samples(["nosuchproto://bucket/x.tar"], skips))  # a missing backend is fatal, not skipped
    finally:
        fs.rm("/pixelkit-test", recursive=True)
