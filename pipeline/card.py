"""The dataset card (README.md) written beside every shard set, ready to publish."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any, BinaryIO

from pixelkit.schemas import ShardManifest
from pixelkit.schemas.cards import md_text

from .report import outcome_counts, render_warnings, stats_rows

SAMPLE_DATA = Path(__file__).resolve().parent / "sample_data"
NOT_RECORDED = "not recorded (see the source's own license)"


def sample_licenses() -> dict[str, str]:
    """{file name: license} of the bundled sample corpus, from the table in ``sample_data/README.md``."""
    readme = SAMPLE_DATA / "README.md"
    lines = readme.read_text(encoding="utf-8").splitlines() if readme.is_file() else []
    rows = (line.split("|") for line in lines if line.startswith("| `"))
    return {cells[1].strip().strip("`"): cells[3].strip() for cells in rows if len(cells) >= 5}


def source_rows(inputs: list[tuple[str, str]], fmt: str) -> list[tuple[str, str, str, str]]:
    """(source, file pattern's name, read as, license) per ``--input``: the format and its license from the
    format registry (``readers.FORMATS``), a bundled sample file's license from ``sample_data/README.md``."""
    from .readers import FORMATS, format_of

    bundled, rows = sample_licenses(), []
    for source, pattern in inputs:
        name = format_of(pattern, fmt)
        entry = FORMATS.get(name) if name else None
        read_as = f"{name}: {entry.help}" if entry else "by each file's suffix"
        bundled_file = "://" not in pattern and Path(pattern).resolve().parent == SAMPLE_DATA
        lic = (bundled.get(Path(pattern).name) if bundled_file else None) or (entry.license if entry else "") \
            or NOT_RECORDED
        rows.append((source, Path(pattern).name, read_as, lic))
    return rows


OPTIONAL_JSON = {"replaced_chars": 0}  # sample JSON fields some samples leave out; `datasets` fills them with None


def _dtype(v: Any) -> Any:
    """The Hugging Face ``datasets`` type of one JSON value, as its YAML front matter spells it (what the
    webdataset builder infers from the same value)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return {"list": _dtype(next((x for x in v if x is not None), None))}
    if isinstance(v, dict):
        return {"struct": [_field(k, x) for k, x in v.items()]}
    raise TypeError(f"no datasets type for {type(v).__name__}")


def _field(name: str, v: Any) -> dict:
    t = _dtype(v)
    return {"name": name, **(t if isinstance(t, dict) else {"dtype": t})}


def hf_features(first_json: dict, encoding: str) -> list[dict]:
    """The columns ``datasets.load_dataset`` gives these shards (webdataset builder): the sample JSON as a
    struct (types from the first sample, plus the optional fields), the pixels (``png``: an image; ``pxz``: bytes), the text, the key
    and the shard URL."""
    pixels = {"name": encoding, "dtype": "image" if encoding == "png" else "binary"}
    meta = {**OPTIONAL_JSON, **first_json}  # written only when non-zero: declared so every sample fits
    return [_field("json", dict(sorted(meta.items()))), pixels, {"name": "txt", "dtype": "string"},
            {"name": "__key__", "dtype": "string"}, {"name": "__url__", "dtype": "string"}]


def first_json(shard: str | Path | BinaryIO) -> dict | None:
    """The metadata of a shard's first sample (this run wrote it), for the card's feature types; ``shard``: a
    local path or a binary stream (read only up to that sample)."""
    opened = {"fileobj": shard, "mode": "r|"} if hasattr(shard, "read") else {"name": shard}
    with tarfile.open(**opened) as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".json"):
                return json.loads(tar.extractfile(member).read())
    return None


def decode_recipe(m: ShardManifest) -> str:
    """The one-liner that turns the ``pxz`` column into an image column inside ``datasets`` (exact pixels:
    ``numpy.asarray(row["image"])`` is the strip ``decode_pixels`` returns)."""
    rc = m.render_config
    width = rc["max_patches"] * rc["pixels_per_patch"]
    return (f'ds = ds.map(lambda r: {{"image": Image.fromarray(decode_pixels(r["pxz"], "pxz", mode="{rc["mode"]}", '
            f'height={rc["pixels_per_patch"]}, width={width}))}}, remove_columns=["pxz"])')


def dataset_card(m: ShardManifest, first_json: dict | None = None,
                 sources: list[tuple[str, str, str, str]] | None = None) -> str:
    """README.md text: ``huggingface_hub.DatasetCard`` front matter (license, tags, ``configs`` with the
    manifest's data files, ``dataset_info`` features when ``first_json`` is given) and the body; ``sources``:
    ``source_rows`` of the run's inputs (what each source was read as, and its license), when known."""
    from huggingface_hub import DatasetCard, DatasetCardData

    rc = m.render_config
    if sources:
        read = "\n\n| source | files | read as | license |\n|---|---|---|---|\n" + "\n".join(
            "| " + " | ".join(md_text(c) for c in cells) + " |" for cells in sources) + "\n"
        where = "; what each was read as, and its license: below."
    else:
        read, where = "", f". Licenses: {NOT_RECORDED}."
    counts = "\n".join(f"| {k} | {v:,} |" for k, v in outcome_counts(m.counts).items())
    per_source = "\n".join(f"| {md_text(s)} | {c:,} | {t:,} | {r} | {x:,} |" for s, c, t, r, x in stats_rows(m.counts))
    warnings = "".join(f"\n> **Warning**: {w}\n" for w in render_warnings(m.counts, task=bool(m.task)))
    first, last = m.shards[0].name, m.shards[-1].name
    pattern = first.rsplit("-", 3)[0] + "-{" + first.split("-")[-3] + ".." + last.split("-")[-3] + "}-of-" + \
        first.split("-of-")[1]
    tok = m.tokenizer or {}
    task = ""
    if m.task:
        t = m.task
        labels = ", ".join(map(md_text, t["label_names"][:12])) + (" ..." if len(t["label_names"]) > 12 else "")
        task = (f"- Task: {md_text(t['name'])} ({t['family']}, {t['input']} input, metric {t['metric']}, language "
                f"{md_text(t['language'] or '-')}); {len(t['label_names'])} labels{': ' + labels if labels else ''}.\n")
    hf_files = f"{m.split}-*-of-{len(m.shards):05d}.tar"
    meta = DatasetCardData(license="other", tags=["pixel-language-model", "rendered-text", "webdataset"],
                           configs=[{"config_name": "default", "data_files": [{"split": m.split, "path": hf_files}]}])
    if first_json is not None:
        meta.dataset_info = {"features": hf_features(first_json, m.encoding)}
    if m.encoding == "png":
        hf_load = ("The `png` column arrives as a PIL image, the strip as rendered (what the dataset viewer shows; "
                   "binary strips are 1-bit images).")
    else:
        hf_load = (f"`pxz` is pixelkit's compressed strip (bytes to `datasets`); to turn it into an image column:"
                   f"\n\n```python\nfrom PIL import Image\nfrom pixelkit.schemas import decode_pixels\n{decode_recipe(m)}\n```"
                   f"\n\n(`numpy.asarray(row[\"image\"])` is the pixel array.) Render with `--encoding png` for shards "
                   f"the dataset viewer shows as images directly.")
    body = f"""# Rendered text shards ({m.split})

Text rendered to {rc['pixels_per_patch']}-px patch strips ({rc['mode']}, {rc['max_patches']} patches,
{rc['backend']} backend, font {md_text(rc['font_file'])} {rc['font_size']} pt @ {rc['dpi']} dpi) by pixelkit, schema
{m.schema_version}. {m.num_samples:,} samples in {len(m.shards)} WebDataset shards ({m.num_bytes / 1e6:,.1f} MB).

{task}- Sources: {', '.join(map(md_text, m.sources))}{where}
- Pixels: `.{m.encoding}` members ({'PNG images' if m.encoding == 'png' else 'pixelkit pxz, decode with pixelkit.schemas.decode_pixels'});
  metadata in `.json`, text in `.txt`. Token ids: {md_text(tok.get('name', 'none'))} (vocab {tok.get('vocab_size', '-')},
  sha256 {str(tok.get('sha256', '-'))[:16]}...).
- Font sha256: {', '.join(f'{md_text(k)} {v[:16]}...' for k, v in rc['font_sha256'].items())}.{read}

## Counts

| what | count |
|---|---:|
{counts}

Characters per source (every {'record' if m.task else 'chunk'} rendered, kept or skipped): tofu is what the fonts could not draw; replaced
are control characters and lone surrogates drawn as spaces / U+FFFD.

| source | characters | tofu | tofu share | replaced |
|---|---:|---:|---:|---:|
{per_source}
{warnings}
## Load

```python
import webdataset as wds
from pixelkit.schemas import RenderedSample
ds = wds.WebDataset("{pattern}", shardshuffle=False).map(RenderedSample.from_wds)
```

With Hugging Face datasets: `datasets.load_dataset("path/to/this/folder", split="{m.split}")` (the `configs` above
name exactly the {len(m.shards)} shards of this manifest; or `datasets.load_dataset("webdataset",
data_files={{"{m.split}": "{hf_files}"}})`). {hf_load}

Full render configuration and per-shard sha256 are in `manifest.json`.
"""
    return str(DatasetCard(f"---\n{meta.to_yaml()}\n---\n{body}"))
