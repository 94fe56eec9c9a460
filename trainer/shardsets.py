"""Where a shard set lives: a directory, a manifest.json, a brace pattern or URLs -> shard URLs + what they hold.

Local paths and fsspec URLs (gs://, s3://, http(s)://) are read through fsspec; ``pipe:`` URLs go to webdataset
as they are. The manifest, when there is one, tells the pixel mode, patch size, strip length and tokenizer;
without one the first sample tells.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

import braceexpand
import fsspec

from pixelkit.schemas import SchemaError, ShardInfo, ShardManifest
from pixelkit.schemas.manifest import MANIFEST_NAME, MAX_MANIFEST_BYTES

from .models.base import ConfigError, DataInfo
from .spec import other_tokenizer


@dataclass
class ShardSet:
    spec: str  # as the user gave it
    urls: list[str]
    manifest: ShardManifest | None
    num_samples: int | None  # from the manifest

    def expected(self) -> dict[str, ShardInfo]:
        """What the manifest says each shard URL holds (size, sample count); empty without a manifest."""
        if self.manifest is None:
            return {}
        by_name = {s.name: s for s in self.manifest.shards}
        return {u: by_name[posixpath.basename(u)] for u in self.urls if posixpath.basename(u) in by_name}

    def info(self) -> DataInfo:
        if self.manifest is None:
            from .data import read_samples  # peek: the first sample tells what the set holds
            first = next(read_samples(self.urls[:1], limit=1), None)
            if first is None:
                raise ConfigError(f"{self.spec}: no readable sample in {self.urls[0]}")
            # no vocab_size: one sample's largest id + 1 sized the embedding, and a larger id later was an
            # IndexError mid-run; a token model is refused (the manifest names the tokenizer)
            return DataInfo(mode=first.mode, patch_size=first.patch_size,
                            max_patches=first.pixels.shape[1] // first.patch_size)
        m = self.manifest
        tok = m.tokenizer or {}
        return DataInfo(mode=m.render_config["mode"], patch_size=m.patch_size, max_patches=m.max_patches,
                        vocab_size=tok.get("vocab_size"), tokenizer_name=tok.get("name"),
                        tokenizer_sha256=tok.get("sha256"))


def _read_manifest(url: str) -> ShardManifest:
    """The manifest at ``url``, typed and bounded by schemas; anything malformed is a ConfigError naming it."""
    with fsspec.open(url, "rb") as fh:
        data = fh.read(MAX_MANIFEST_BYTES + 1)
    try:
        return ShardManifest.from_json(data, url)
    except SchemaError as e:
        raise ConfigError(f"unusable shard manifest: {e}") from None


def _exists(url: str) -> bool:
    fs, path = fsspec.core.url_to_fs(url)
    return fs.exists(path)


def resolve(spec: str) -> ShardSet:
    """A shard set from a directory (with manifest.json), a manifest path, a brace pattern, or a URL list."""
    if spec.startswith("pipe:"):
        return ShardSet(spec, list(braceexpand.braceexpand(spec)), None, None)
    if spec.endswith(".json"):
        if not _exists(spec):
            raise ConfigError(f"manifest {spec} does not exist")
        m = _read_manifest(spec)
        base = posixpath.dirname(spec)
        return _checked(ShardSet(spec, [posixpath.join(base, s.name) for s in m.shards], m, m.num_samples))
    literal = "{" in spec and _exists(spec)  # a directory or shard named with a brace (`out/{a,b}`), no pattern
    if spec.endswith(".tar") or ("{" in spec and not literal):
        urls = [spec] if literal else list(braceexpand.braceexpand(spec))
        near = posixpath.join(posixpath.dirname(urls[0]), MANIFEST_NAME)
        m = _read_manifest(near) if _exists(near) else None
        return _checked(ShardSet(spec, urls, m, None))
    fs, path = fsspec.core.url_to_fs(spec)
    if not fs.isdir(path):
        raise ConfigError(f"shard set {spec!r} is not a directory, manifest, .tar path or brace pattern "
                          "(or it does not exist)")
    manifest = spec.rstrip("/") + "/" + MANIFEST_NAME
    if _exists(manifest):
        return resolve(manifest)
    tars = sorted(p for p in fs.ls(path, detail=False) if p.endswith(".tar"))
    if not tars:
        raise ConfigError(f"no shards (*.tar) and no {MANIFEST_NAME} in {spec}")
    proto = spec.split("://")[0] + "://" if "://" in spec else ""
    return _checked(ShardSet(spec, [proto + t for t in tars], None, None))


def _checked(s: ShardSet) -> ShardSet:
    if not s.urls:  # a manifest listing no shard: the stream would have nothing to read
        raise ConfigError(f"{s.spec}: lists no shards; render the set again or leave it out")
    missing = [u for u in s.urls if not _exists(u)]
    if missing:
        raise ConfigError(f"{s.spec}: {len(missing)} shard(s) missing, e.g. {missing[0]}")
    return s


def common_info(sets: list[ShardSet]) -> DataInfo:
    """The DataInfo all train sets share; mixing sets with different pixels is an error."""
    infos = [s.info() for s in sets]
    for s, i in zip(sets[1:], infos[1:]):
        if (i.mode, i.patch_size, i.max_patches) != (infos[0].mode, infos[0].patch_size, infos[0].max_patches):
            raise ConfigError(f"{s.spec} holds {i.mode} {i.patch_size}px x {i.max_patches} strips, but "
                              f"{sets[0].spec} holds {infos[0].mode} {infos[0].patch_size}px x {infos[0].max_patches}")
        if other_tokenizer(i, infos[0]):
            raise ConfigError(f"{s.spec} holds token ids of tokenizer {i.tokenizer_name}, {sets[0].spec} those of "
                              f"{infos[0].tokenizer_name}: an id would mean different tokens; render every set "
                              "with one --tokenizer")
    return infos[0]


def check_token_sets(sets: list[ShardSet], info: DataInfo, eval_set: ShardSet | None, reads_ids: bool) -> None:
    """The eval set's token ids are the train sets' tokenizer's; a model that reads token ids finds them in every
    set (a train or eval set rendered without --tokenizer beside ones with it failed at its first sample, after
    DeepSpeed had started)."""
    ei = eval_set.info() if eval_set is not None else None
    if ei is not None and other_tokenizer(ei, info):
        raise ConfigError(f"data.eval {eval_set.spec} holds token ids of tokenizer {ei.tokenizer_name}, the train "
                          f"sets those of {info.tokenizer_name}: render it with the train sets' --tokenizer")
    if not reads_ids:
        return
    pairs = [(s.spec, s.info()) for s in sets] + ([(f"data.eval {eval_set.spec}", ei)] if ei is not None else [])
    bare = [spec for spec, i in pairs if not i.vocab_size]
    if bare:
        tok = info.tokenizer_name or "TOKENIZER"
        raise ConfigError(f"{', '.join(bare)}: no token ids (rendered without --tokenizer, or no manifest naming "
                          f"one), but this model reads them; render them with --tokenizer {tok} as the other sets, "
                          "or leave them out")
    for (spec, i), s in zip(pairs, [*sets, *([eval_set] if eval_set is not None else [])]):
        check_id_span(s, spec, i)


PEEK_SAMPLES = 64  # samples of each set's first shard whose token ids are checked against its manifest at start


def check_id_span(s: ShardSet, spec: str, info: DataInfo) -> None:
    """The first ``PEEK_SAMPLES`` samples' token ids are below the manifest's tokenizer vocab_size. Shards rendered
    before the manifest recorded a tokenizer's id span (largest id + 1) hold the entry count of one whose ids skip
    (``{"[UNK]": 0, "the": 40000}``: vocab_size 3): the run was stopped only by the collate, once DeepSpeed had
    started. A larger id further in is still stopped there (this reads no more than one shard's first samples)."""
    from .data import read_samples
    for sample in read_samples(s.urls[:1], limit=PEEK_SAMPLES):
        top = max(sample.token_ids or [-1])
        if top >= info.vocab_size:
            raise ConfigError(f"{spec}: sample {sample.key} holds token id {top}, but the manifest's tokenizer "
                              f"{info.tokenizer_name} has vocab_size {info.vocab_size}: shards rendered before the "
                              f"manifest recorded a tokenizer's id span (largest id + 1), not its entry count (its ids "
                              f"skip); render the set again with the same --tokenizer")
