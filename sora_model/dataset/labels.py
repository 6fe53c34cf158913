"""Class labels for a corpus: a CSV of ``path,label_name`` (paths relative to the corpus root or absolute)."""

from __future__ import annotations

import csv
import io

from sora_model.lake import storage


def read_labels_csv(uri: str, corpus_root: str) -> dict[str, str]:
    """Map of normalised absolute video URI -> label name. Raises ValueError naming a malformed line."""
    text = storage.read_text(uri)
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"path", "label_name"} <= set(reader.fieldnames):
        raise ValueError(f"{uri}: labels CSV needs a header with 'path' and 'label_name', got {reader.fieldnames}")
    labels: dict[str, str] = {}
    root = storage.normalize(corpus_root)
    for lineno, row in enumerate(reader, start=2):
        path, name = (row.get("path") or "").strip(), (row.get("label_name") or "").strip()
        if not path or not name:
            raise ValueError(f"{uri}:{lineno}: empty path or label_name")
        absolute = path if (path.startswith("/") or "://" in path) else storage.join(root, path)
        labels[storage.normalize(absolute)] = name
    return labels


def class_index(existing: list[str], names: set[str]) -> list[str]:
    """Class list with indices stable across runs: known classes keep their place, new ones append sorted."""
    return list(existing) + sorted(set(names) - set(existing))
