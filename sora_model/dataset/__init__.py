"""The curated dataset: the shard row schema, the shard writer and the clips -> rows builder, splits, labels,
the catalog over the datasets table, and the reader that serves DDP ranks and DataLoader workers.

For training code of your own, one import::

    from sora_model.dataset import open_split

    train = open_split("s3://bucket/lake", "demo", "train", batch_size=32)

(torch is imported when ``open_split`` is first used, not with this package.)
"""

from __future__ import annotations

from typing import Any

__all__ = ["SplitDataset", "open_split"]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - the torch-side names, imported on first use
    if name in __all__:
        from sora_model.dataset import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
