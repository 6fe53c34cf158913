"""One video file at a time: probe, per-file gate, clip spans, cut detection, decoding, augmentation, the closed
set of reject reasons, and the per-video path (``process``) curation and scoring share. The demo corpus too."""
