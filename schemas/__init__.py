"""The versioned contract between the pipeline (writer) and the trainer (reader).

stdlib + numpy + msgspec (+ zstandard/Pillow for pixel payloads, pyarrow for the Arrow views); never Beam or torch.
"""

from .codec import DEFAULT_ENCODING, ENCODINGS, decode_pixels, encode_pixels
from .manifest import ShardInfo, ShardManifest
from .sample import MODES, SCHEMA_VERSION, RenderedSample, SchemaError, make_key
from .task import TaskSpec
from .vocab import BACKENDS, CHANNELS, MAX_MEMBER_BYTES, channels, shard_name

__all__ = [
    "BACKENDS", "CHANNELS", "DEFAULT_ENCODING", "ENCODINGS", "MAX_MEMBER_BYTES", "MODES", "SCHEMA_VERSION",
    "RenderedSample", "SchemaError", "ShardInfo", "ShardManifest", "TaskSpec", "channels", "decode_pixels",
    "encode_pixels", "make_key", "shard_name",
]
