"""pixelkit's data side: text renderers (`pipeline.render`) and the Beam pipeline that writes shards."""
