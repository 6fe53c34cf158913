"""sora_model: Spark-free core of the video data pipeline (probing, clipping, decoding, augmentation, shards)."""

__version__ = "0.1.0"
