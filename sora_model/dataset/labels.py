"""Class labels for a corpus: CSVs of ``path,label_name``. Every ``labels.csv`` under the corpus labels the videos
in its folder and below (paths relative to its folder, or absolute), so a batch of videos added later comes with
its own labels.csv in its own folder; where two name the same video, the deeper one wins."""

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


def read_corpus_labels(corpus_root: str, found: list[str] | None = None) -> dict[str, str]:
    """Labels of every ``labels.csv`` under ``corpus_root`` (the deeper file wins for a video both name):
    ``found`` names them (a listing of the corpus has them: ``Listing.labels``), else the corpus is listed."""
    if found is None:
        from sora_model.lake.listing import ListingConfig, list_corpus

        found = list_corpus(corpus_root, ListingConfig()).labels
    labels: dict[str, str] = {}
    for uri in sorted(found, key=lambda u: (storage.normalize(u).count("/"), u)):
        labels.update(read_labels_csv(uri, uri.rsplit("/", 1)[0]))
    return labels


def class_index(existing: list[str], names: set[str]) -> list[str]:
    """Class list with indices stable across runs: known classes keep their place, new ones append sorted."""
    return list(existing) + sorted(set(names) - set(existing))
