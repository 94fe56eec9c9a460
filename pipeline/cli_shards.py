"""``pixel-shards``: look at and check a shard set written by the pipeline.

    pixel-shards inspect DIR [--n 16] [--out DIR/contact.png]   manifest summary + a contact sheet PNG of the
                                                                 first N samples; the shards not read whole
                                                                 checked for presence and size only
    pixel-shards verify DIR                                      re-hash every shard, validate every sample,
                                                                 a key in two shards, shards the manifest
                                                                 does not list
    pixel-shards stats DIR                                       patches-per-sample distribution
DIR may be a URL: s3://bucket/shards (s3fs; endpoint and keys from AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID ...),
gs://bucket/shards (gcsfs). A remote set's contact sheet goes to ./contact.png unless --out says where.
Exit status is non-zero when verify finds any problem.
"""

from __future__ import annotations

import argparse
import json
import logging
import posixpath
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pixelkit.schemas import RenderedSample, SchemaError, ShardManifest
from pixelkit.schemas.manifest import MANIFEST_NAME, MAX_MANIFEST_BYTES
from pixelkit.schemas.files import printable_stdout, quiet_on_closed_pipe

from .render.visual import to_image
from .shardkeys import KeysSeen
from .shards import HashingReader, read_shard

log = logging.getLogger("pixel-shards")


def _fs(directory: str | Path):
    """(fsspec filesystem, path inside it) of a shard set's directory: local, s3:// (s3fs), gs:// (gcsfs) ..."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(str(directory))
    fs.invalidate_cache(root)  # s3fs/gcsfs cache listings per process: a rerun since then must be seen
    return fs, root.rstrip("/")


def _is_file(fs, path: str, directory) -> bool:
    """``fs.isfile``, but a store that cannot be reached (s3fs: botocore's errors; gcsfs: its own) is an OSError
    naming what to check, not "no shard manifest" (``isfile`` swallows every error as False)."""
    try:
        return fs.exists(path) and fs.isfile(path)
    except FileNotFoundError:
        return False
    except Exception as e:  # noqa: BLE001  (each fsspec backend raises its own client's errors)
        raise OSError(f"{directory}: cannot read {path} ({type(e).__name__}: {str(e)[:160]}); check the endpoint "
                      "and credentials (AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY ...)") from e


def read_manifest(directory: str | Path) -> ShardManifest:
    """The manifest of the shard set in ``directory`` (a local directory or an fsspec URL)."""
    fs, root = _fs(directory)
    path = f"{root}/{MANIFEST_NAME}"
    if not _is_file(fs, path, directory):
        splits = sorted(p.rsplit("/", 2)[-2] for p in fs.glob(f"{root}/*/{MANIFEST_NAME}")) \
            if fs.isfile(f"{root}/task.json") else []
        hint = (f" (a pixel-render task output: each split is a shard set; give one of "
                f"{', '.join(str(directory).rstrip('/') + '/' + s for s in splits)})" if splits else "")
        raise FileNotFoundError(f"no shard manifest at {str(directory).rstrip('/')}/{MANIFEST_NAME}{hint}")
    if fs.size(path) > MAX_MANIFEST_BYTES:
        raise SchemaError(f"{path}: {fs.size(path)} bytes, over the limit of {MAX_MANIFEST_BYTES}")
    return ShardManifest.from_json(fs.cat_file(path), path)


def verify(directory: str | Path) -> list[str]:
    """Every problem found in a shard set (a local directory or an fsspec URL such as ``s3://bucket/shards``),
    as readable lines (empty: all good). Each shard is read once: hashed and parsed in one pass."""
    problems: list[str] = []
    try:
        manifest = read_manifest(directory)
    except (OSError, SchemaError) as e:
        return [str(e)]
    fs, root = _fs(directory)
    want = (manifest.render_config["mode"], manifest.patch_size, manifest.max_patches)
    seen = KeysSeen()  # a key is in one shard of a set: 12 bytes per key, not the key (shardkeys.py)
    for index, info in enumerate(manifest.shards):
        path = f"{root}/{info.name}"
        if not fs.isfile(path):
            problems.append(f"{info.name}: missing")
            continue
        n, keys = 0, set()
        with fs.open(path, "rb") as raw:
            reader = HashingReader(raw)
            for item in read_shard(reader):
                if isinstance(item, SchemaError):
                    problems.append(f"{info.name}: {item}")
                    continue
                n += 1
                if item.key in keys:
                    problems.append(f"{info.name}: duplicate key {item.key}")
                else:
                    seen.add(item.key, index)
                keys.add(item.key)
                if (item.mode, item.patch_size, item.max_patches) != want:
                    problems.append(f"{info.name}: {item.key} is a {item.mode} strip of {item.max_patches} "
                                    f"{item.patch_size}px patches; the manifest says {want[0]} {want[2]} x {want[1]}px")
            reader.drain()
        if reader.nbytes != info.num_bytes or reader.sha.hexdigest() != info.sha256:
            problems.append(f"{info.name}: size or sha256 differs from the manifest")
        if n != info.num_samples:
            problems.append(f"{info.name}: {n} valid samples, manifest says {info.num_samples}")
    names = [info.name for info in manifest.shards]

    def keys_of(index: int):
        with fs.open(f"{root}/{names[index]}", "rb") as fh:
            return [item.key for item in read_shard(fh) if not isinstance(item, SchemaError)]
    problems += [f"{names[i]}: key {key} is in {names[first]} too (a sample twice)"
                 for i, key, first in seen.repeated(keys_of)]
    listed = set(names)
    found = sorted(posixpath.basename(p) for p in fs.glob(f"{root}/*.tar"))
    problems += [f"{name}: a shard not in the manifest" for name in found if name not in listed]
    return problems


def iter_samples(directory: str | Path, manifest: ShardManifest, problems: list[str] | None = None,
                 reached: list[str] | None = None):
    """The valid samples of a set in manifest order. A shard that is missing or a sample that does not parse is
    left out and, when ``problems`` is given, named there (``inspect`` and ``stats`` say so: it raised
    FileNotFoundError, and a shard that is not a tar was left out without a word). ``reached``: each shard's name
    as it is begun."""
    fs, root = _fs(directory)
    for info in manifest.shards:
        if reached is not None:
            reached.append(info.name)
        path = f"{root}/{info.name}"
        if not fs.isfile(path):
            if problems is not None:
                problems.append(f"{info.name}: missing ({info.num_samples} samples in the manifest)")
            continue
        with fs.open(path, "rb") as fh:
            for item in read_shard(fh):
                if isinstance(item, RenderedSample):
                    yield item
                elif problems is not None:
                    problems.append(f"{info.name}: {item}")


def unread_shard_problems(directory: str | Path, manifest: ShardManifest, skip: set[str]) -> list[str]:
    """The shards not in ``skip`` checked without reading them: present, and of the manifest's size (one directory
    listing; a truncated or rewritten shard). A damaged sample inside one of the same size is not seen: verify."""
    fs, root = _fs(directory)
    sizes = {posixpath.basename(e["name"].rstrip("/")): e.get("size") for e in fs.ls(root, detail=True)
             if e.get("type") == "file"}
    problems = []
    for info in manifest.shards:
        if info.name in skip:
            continue
        if info.name not in sizes:
            problems.append(f"{info.name}: missing ({info.num_samples} samples in the manifest)")
        elif sizes[info.name] != info.num_bytes:
            problems.append(f"{info.name}: {sizes[info.name]} bytes, the manifest says {info.num_bytes} (cut short "
                            f"or rewritten; not read)")
    return problems


def contact_sheet(samples: list[RenderedSample], out: Path, patches: int = 64) -> Path:
    """The first ``patches`` patches of each sample (zoomed x2), its key and text underneath."""
    rows = []
    for s in samples:
        img = to_image(s.decode(), s.mode, s.patch_size, patches=min(patches, s.max_patches), scale=2)
        canvas = Image.new("RGB", (img.width, img.height + 28), "white")
        canvas.paste(img, (0, 0))
        ImageDraw.Draw(canvas).text((2, img.height + 2), f"{s.key}  [{s.num_patches} patches]  {s.text[:110]}", fill=(0, 0, 0))
        rows.append(canvas)
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    sheet.save(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """``pixel-shards``; a reader that stops early (``pixel-shards verify DIR | head``) ends it quietly, exit 1 --
    it was a BrokenPipeError traceback."""
    return quiet_on_closed_pipe(lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    printable_stdout()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser(prog="pixel-shards", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("inspect", "verify", "stats"):
        p = sub.add_parser(name)
        p.add_argument("dir", help="a shard set's directory, or its URL (s3://bucket/shards, gs://...: fsspec)")
        if name == "inspect":
            p.add_argument("--n", type=int, default=16)
            p.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "verify":
        problems = verify(a.dir)
        for line in problems:
            print(f"PROBLEM {line}")
        print(f"{a.dir}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        return 1 if problems else 0
    if a.cmd == "inspect" and (why := _inspect_settings_problem(a)):  # before reading: PIL raised after the work
        print(f"pixel-shards inspect: error: {why}", file=sys.stderr)
        return 2
    try:
        manifest = read_manifest(a.dir)
    except (OSError, SchemaError) as e:
        print(f"pixel-shards: error: {e}", file=sys.stderr)
        return 2
    problems: list[str] = []
    if a.cmd == "inspect":
        summary = {k: v for k, v in manifest.to_dict().items() if k != "shards"}
        summary["shards"] = len(manifest.shards)
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        samples, reached, early = [], [], False
        for s in iter_samples(a.dir, manifest, problems, reached):
            samples.append(s)
            if len(samples) >= a.n:
                early = True
                break
        if early:  # what was not read went unchecked: a damaged last shard was exit 0 without a word
            problems += unread_shard_problems(a.dir, manifest, set(reached[:-1]))  # the last one begun: not all read
            print(f"read the first {len(samples)} samples, from {len(reached)} of {len(manifest.shards)} shard(s); "
                  f"the rest of the set was checked for presence and size only: `pixel-shards verify {a.dir}` reads "
                  f"and checks every sample")
        _report_unread(a, problems)
        if samples:
            out = Path(_sheet_path(a))
            out.parent.mkdir(parents=True, exist_ok=True)
            print(f"contact sheet: {contact_sheet(samples, out)}")
        else:
            print("no valid sample read: no contact sheet")
        return 1 if problems else 0
    want = (manifest.render_config["mode"], manifest.patch_size, manifest.max_patches)
    counts = []
    for s in iter_samples(a.dir, manifest, problems):
        counts.append(s.num_patches)
        if (s.mode, s.patch_size, s.max_patches) != want:  # its patches fell outside the histogram without a word
            problems.append(f"{s.key}: a {s.mode} strip of {s.max_patches} {s.patch_size}px patches; the manifest "
                            f"says {want[0]} {want[2]} x {want[1]}px (counted in the numbers)")
    counts = np.array(counts)
    _report_unread(a, problems)
    if counts.size == 0:
        print("no samples")
        return 1
    q = np.percentile(counts, [0, 10, 50, 90, 100])
    print(f"samples {counts.size}  mean patches {counts.mean():.1f}  min/p10/p50/p90/max " + "/".join(f"{v:.0f}" for v in q))
    hist, edges = np.histogram(counts, bins=10, range=(0, max(manifest.max_patches, int(counts.max()))))
    for h, lo, hi in zip(hist, edges, edges[1:]):
        print(f"{lo:6.0f}-{hi:<6.0f} {'#' * int(60 * h / max(1, hist.max()))} {h}")
    return 1 if problems else 0


# Rows of a contact sheet: 500 gray rows of 64 16-px patches at x2 are 2,048 x 30,000 px, a third of the 89 M
# pixels above which PIL (and many viewers) refuse to open an image as a decompression bomb.
MAX_SHEET_ROWS = 500


def _sheet_path(a: argparse.Namespace) -> str:
    if a.out is not None:
        return str(a.out)
    local = "://" not in a.dir or a.dir.startswith("file://")  # a remote set's sheet goes to the cwd
    return str((Path(a.dir.removeprefix("file://")) if local else Path()) / "contact.png")


def _inspect_settings_problem(a: argparse.Namespace) -> str | None:
    """Why ``inspect``'s --n or --out cannot work (--n 0 and -1 drew one sample; --out onto a directory, into a
    file or with a suffix PIL does not write raised after every sample had been read)."""
    from .validate import out_file_problem

    if not 1 <= a.n <= MAX_SHEET_ROWS:
        return f"--n {a.n} must be in 1..{MAX_SHEET_ROWS} (rows of the contact sheet)"
    out = _sheet_path(a)
    if a.out is None and not Path(out).parent.is_dir():
        return None  # no manifest there either: read_manifest says so
    if why := out_file_problem(out, "--out", "contact.png"):
        return why
    suffix = Path(out).suffix.lower()
    if Image.registered_extensions().get(suffix) not in Image.SAVE:  # .psd: PIL reads it, cannot write it
        return f"--out {out}: {suffix or 'no suffix'} is not an image format PIL writes; give e.g. contact.png"
    return None


def _report_unread(a: argparse.Namespace, problems: list[str]) -> None:
    """Samples left out (a missing shard, one that is not a tar, a sample that does not parse) or, in stats, of
    another shape than the manifest's: counted, the first few named, on stderr; the exit code is then 1."""
    if not problems:
        return
    for line in problems[:5]:
        print(f"pixel-shards {a.cmd}: {line}", file=sys.stderr)
    more = f" ({len(problems) - 5} more)" if len(problems) > 5 else ""
    print(f"pixel-shards {a.cmd}: {len(problems)} problem(s) while reading{more}; a sample that could not be read is "
          f"left out of what is shown; `pixel-shards verify {a.dir}` lists every problem", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
