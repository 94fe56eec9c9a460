"""The versioned contract between the pipeline (writer) and the trainer (reader).

stdlib + numpy (+ zstandard/Pillow for pixel payloads, pyarrow for the Arrow views); never Beam or torch.
"""

from .codec import DEFAULT_ENCODING, ENCODINGS, decode_pixels, encode_pixels
from .manifest import ShardInfo, ShardManifest, shard_name
from .sample import MODES, SCHEMA_VERSION, RenderedSample, SchemaError, make_key
from .task import TaskSpec

__all__ = [
    "DEFAULT_ENCODING", "ENCODINGS", "MODES", "SCHEMA_VERSION", "RenderedSample", "SchemaError", "ShardInfo",
    "ShardManifest", "TaskSpec", "decode_pixels", "encode_pixels", "make_key", "shard_name",
]
