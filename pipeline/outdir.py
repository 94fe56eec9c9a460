"""One output directory holds one run: its shards, manifest, card and dead letters, and ``.pixelkit-run.json``
(the settings that made them). Another run's files are never mixed in.

- a directory with shards or a manifest is refused, unless ``--resume`` finds the same recorded settings (the
  same run, finishing) or ``--overwrite`` is given (the old run's files are deleted first: the manifest before
  the shards, so an interrupted clean-up never leaves a directory that looks complete);
- when the run ends, shards of this split whose names the manifest does not list (an earlier attempt of the same
  run that had another shard count) are deleted, so ``{split}-*.tar`` is exactly the manifest's shards.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from .validate import SettingsError

log = logging.getLogger(__name__)

RUN_FILE = ".pixelkit-run.json"
SHARD_RE = re.compile(r"^[A-Za-z0-9_]+-\d{5}-of-\d{5}\.tar$")
RUN_OUTPUTS = ("manifest.json", "manifest.parquet", "README.md", "dead_letters.jsonl", "contact.png")


def run_files(out: Path) -> list[Path]:
    """What a run wrote into ``out``: shards (and their hidden temp files) and the manifest, sorted by name."""
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir()
                  if SHARD_RE.match(p.name) or p.name in ("manifest.json", "manifest.parquet")
                  or (p.name.startswith(".") and p.name.endswith((".tmp", ".uploading")) and ".tar." in p.name))


def prepare_output(out: str | Path, fingerprint: dict, resume: bool, overwrite: bool) -> None:
    """Make ``out`` ready for this run (see the module doc); SettingsError naming the fix when it holds another run."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    found, run_file = run_files(out), out / RUN_FILE
    recorded = json.loads(run_file.read_text()) if run_file.is_file() else None
    names = ", ".join(p.name for p in found[:3]) + (" ..." if len(found) > 3 else "")
    if found and overwrite:
        _delete_run(out, found)
    elif found and not resume:
        raise SettingsError(f"--output {out} already holds a run ({len(found)} files: {names}); give a new --output, "
                            f"--overwrite to replace that run, or --resume to finish it if it is this same run")
    elif found and recorded is None:
        raise SettingsError(f"--resume: {out} holds shards ({names}) but no record of their settings ({RUN_FILE}); "
                            f"give a new --output or --overwrite")
    elif resume and recorded is not None and recorded != fingerprint:
        raise SettingsError(f"--resume: {out} was written with other settings ({run_file}); give a new --output, "
                            f"or --overwrite to replace that run")
    run_file.write_text(json.dumps(fingerprint, sort_keys=True, indent=1))


def _delete_run(out: Path, found: list[Path]) -> None:
    manifests = [p for p in found if p.name.startswith("manifest.")]
    for p in [*manifests, *(out / n for n in RUN_OUTPUTS if not n.startswith("manifest.")),
              *(p for p in found if p not in manifests), out / RUN_FILE]:
        p.unlink(missing_ok=True)
    log.warning("--overwrite: deleted the previous run in %s (%d shard files)", out, len(found) - len(manifests))


def drop_stale_shards(out: str | Path, split: str, keep: set[str]) -> list[str]:
    """Delete this split's shards that ``keep`` (the manifest's names) does not list; returns their names."""
    stale = [p for p in Path(out).glob(f"{split}-*-of-*.tar") if SHARD_RE.match(p.name) and p.name not in keep]
    for p in stale:
        p.unlink()
    if stale:
        log.warning("deleted %d shards of an earlier attempt of this run that the manifest does not list: %s",
                    len(stale), ", ".join(sorted(p.name for p in stale))[:300])
    return sorted(p.name for p in stale)
