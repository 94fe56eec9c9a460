"""Keys that are in more than one shard of a set (``pixel-shards verify``), in bounded memory.

A key is in one shard of a set (the sink puts it in shard sha1(key) % n). Holding every key seen in a dict, to
name the shard it was first found in, cost ~120 bytes a sample (a set of 100 million samples: 12 GB). Here each
key is kept as an 8-byte hash and the index of its shard (12 bytes); at the end the hashes found more than once are
confirmed against the keys themselves, read again from the shards that hold them (two distinct keys may share a
hash: at 100 million keys, about once in 3,700 sets), so only true repeats are reported.
"""

from __future__ import annotations

import hashlib
from array import array
from typing import Callable, Iterable

import numpy as np

HASH_BYTES = 8


def key_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=HASH_BYTES).digest(),
                          "little")


class KeysSeen:
    """``add`` each shard's distinct keys in shard order; ``repeated`` names every key found in several shards."""

    def __init__(self):
        self._hashes, self._shards = array("Q"), array("I")

    def add(self, key: str, shard: int) -> None:
        self._hashes.append(key_hash(key))
        self._shards.append(shard)

    def repeated(self, keys_of: Callable[[int], Iterable[str]]) -> list[tuple[int, str, int]]:
        """(shard, key, the first shard it is in) for each key in a shard after its first, ordered by shard and
        key. ``keys_of(shard)`` reads a shard's keys again (only shards holding a repeated hash are read)."""
        hashes = np.frombuffer(self._hashes, dtype=np.uint64) if len(self._hashes) else np.zeros(0, np.uint64)
        ordered = np.sort(hashes)
        twice = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
        if not twice.size:
            return []
        shards = np.frombuffer(self._shards, dtype=np.uint32)[np.isin(hashes, twice)]
        suspects, found = set(twice.tolist()), {}
        for shard in sorted(set(shards.tolist())):
            for key in dict.fromkeys(keys_of(shard)):
                if key_hash(key) in suspects:
                    found.setdefault(key, []).append(shard)
        return sorted((shard, key, where[0]) for key, where in found.items() for shard in where[1:])
