"""After training: compressed variants (ONNX, int8, pruned, distilled), loading and running any variant,
evaluation, and per-video scoring."""
