"""Spark pipelines: DataFrame plans over sora_model's per-record functions, and the Delta/Parquet writers."""
