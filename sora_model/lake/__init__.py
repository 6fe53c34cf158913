"""The lake: one storage layer for local paths and object-store URIs, the layout of everything under a lake root,
content-derived ids and the model card every checkpoint and variant carries."""
