"""pixelkit's training side (the streaming DeepSpeed trainer). Reads shards through `schemas`; never imports Beam."""
