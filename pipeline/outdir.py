"""One output directory holds one run: its shards, manifest, card and dead letters, and ``.pixelkit-run.json``
(the settings that made them). Another run's files are never mixed in.

The same rules hold for an object-store prefix (``s3://bucket/shards``, ``gs://...``: ``storage``).

- a directory holding a file of a run's output names (``README.md``, ``dead_letters.jsonl`` ...) but no run
  (no shards, manifest or run record: a corpus folder's own README) is refused: the run would replace it;
- a directory with shards or a manifest is refused, unless ``--resume`` finds the same recorded settings (the
  same run, finishing) or ``--overwrite`` is given (the old run's files are deleted first: the manifest before
  the shards, so an interrupted clean-up never leaves a directory that looks complete);
- when the run ends, shards of this split whose names the manifest does not list (an earlier attempt of the same
  run that had another shard count) are deleted, so ``{split}-*.tar`` is exactly the manifest's shards.
"""

from __future__ import annotations

import fnmatch
import json
import logging
from pathlib import Path

from pixelkit.schemas import ShardManifest
from pixelkit.schemas.manifest import MANIFEST_NAME, MAX_MANIFEST_BYTES
from pixelkit.schemas.vocab import SHARD_RE

from . import storage
from .card import dataset_card, first_json
from .validate import SettingsError

log = logging.getLogger(__name__)

RUN_FILE = ".pixelkit-run.json"
MAX_RUN_FILE_BYTES = 1 << 20  # a run's recorded settings are a few kB
RUN_OUTPUTS = ("manifest.json", "manifest.parquet", "README.md", "dead_letters.jsonl", "contact.png")


def _is_run_file(name: str) -> bool:
    return (bool(SHARD_RE.match(name)) or name in ("manifest.json", "manifest.parquet")
            or (name.startswith(".") and name.endswith((".tmp", ".uploading")) and ".tar." in name))


def run_files(out: str | Path) -> list[str]:
    """What a run wrote into ``out`` (a directory or an object-store prefix): shards (and their hidden temp or
    staging files) and the manifest, names sorted."""
    return [n for n in storage.listdir(str(out)) if _is_run_file(n)]


def prepare_output(out: str | Path, fingerprint: dict, resume: bool, overwrite: bool) -> None:
    """Make ``out`` ready for this run (see the module doc); SettingsError naming the fix when it holds another run."""
    out = str(out)
    storage.makedirs(out)
    found, run_file = run_files(out), storage.join(out, RUN_FILE)
    recorded, damaged = None, ""
    if storage.exists(run_file):
        try:  # a damaged record (edited, or another tool's file) is no record: it raised JSONDecodeError here
            recorded = json.loads(storage.read_bytes(run_file, MAX_RUN_FILE_BYTES))
        except (ValueError, RecursionError) as e:  # not JSON, not UTF-8, too large, nested too deep
            damaged = f", which is damaged ({type(e).__name__}: {str(e)[:80]})"
    names = ", ".join(found[:3]) + (" ..." if len(found) > 3 else "")
    if not found and recorded is None and not damaged:  # no run here: a file of a run's name is someone else's
        listed = set(storage.listdir(out))
        if theirs := [n for n in RUN_OUTPUTS if n in listed]:  # (a corpus folder's README.md: it was replaced)
            raise SettingsError(f"--output {out} holds {', '.join(theirs)}, which no pixelkit run wrote (no shards, "
                                "manifest or run record there): this run would replace them with its own (the dataset "
                                "card, dead letters); give a new or empty --output")
    if found and overwrite:
        _delete_run(out, found)
    elif found and not resume:
        raise SettingsError(f"--output {out} already holds a run ({len(found)} files: {names}); give a new --output, "
                            f"--overwrite to replace that run, or --resume to finish it if it is this same run")
    elif found and recorded is None:
        raise SettingsError(f"--resume: {out} holds shards ({names}) but no record of their settings ({RUN_FILE}"
                            f"{damaged}); give a new --output or --overwrite")
    elif resume and recorded is not None and recorded != fingerprint:
        raise SettingsError(f"--resume: {out} was written with other settings ({run_file}); give a new --output, "
                            f"or --overwrite to replace that run")
    storage.write(run_file, json.dumps(fingerprint, sort_keys=True, indent=1).encode())


def _delete_run(out: str, found: list[str]) -> None:
    manifests = [n for n in found if n.startswith("manifest.")]
    others = [n for n in RUN_OUTPUTS if not n.startswith("manifest.")]
    for n in [*manifests, *others, *(n for n in found if n not in manifests), RUN_FILE]:
        storage.delete([storage.join(out, n)])  # one at a time, in this order (manifest first)
    log.warning("--overwrite: deleted the previous run in %s (%d shard files)", out, len(found) - len(manifests))


def drop_stale_shards(out: str | Path, split: str, keep: set[str]) -> list[str]:
    """Delete this split's shards that ``keep`` (the manifest's names) does not list, and the hidden temp /
    staging files a killed writer of this split left; returns the stale shards' names."""
    out = str(out)
    names = storage.listdir(out)
    stale = [n for n in names if fnmatch.fnmatchcase(n, f"{split}-*-of-*.tar") and SHARD_RE.match(n) and n not in keep]
    litter = [n for n in names if n.startswith(f".{split}-") and _is_run_file(n)]
    storage.delete([storage.join(out, n) for n in stale + litter])
    if stale:
        log.warning("deleted %d shards of an earlier attempt of this run that the manifest does not list: %s",
                    len(stale), ", ".join(stale)[:300])
    return stale


def write_outputs(out: str, m: ShardManifest, dead_lines: list[str], sources: list | None = None) -> None:
    """A finished run's files besides its shards, each written atomically: ``dead_letters.jsonl``, the card
    ``README.md`` (``sources``: ``card.source_rows``), ``manifest.parquet``, and ``manifest.json`` last (a
    manifest means the run finished); then the stale shards go. The same bytes in a local directory and in object
    storage."""
    from pixelkit.schemas.arrow import shard_table_bytes

    storage.makedirs(out)
    storage.write(storage.join(out, "dead_letters.jsonl"), "".join(line + "\n" for line in sorted(dead_lines)).encode())
    first = None
    if m.shards:
        with storage.open_read(storage.join(out, m.shards[0].name)) as fh:
            first = first_json(fh)
    storage.write(storage.join(out, "README.md"), dataset_card(m, first, sources).encode())
    storage.write(storage.join(out, "manifest.parquet"), shard_table_bytes(m))
    storage.write(storage.join(out, MANIFEST_NAME), m.to_json())
    drop_stale_shards(out, m.split, {s.name for s in m.shards})


def read_manifest(out: str | Path) -> ShardManifest:
    """The manifest of the run in ``out`` (a directory or an object-store prefix)."""
    path = storage.join(str(out), MANIFEST_NAME)
    if not storage.exists(path):
        raise FileNotFoundError(f"no shard manifest at {path}")
    return ShardManifest.from_json(storage.read_bytes(path, MAX_MANIFEST_BYTES), path)
