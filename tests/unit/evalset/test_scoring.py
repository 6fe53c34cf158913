"""Scoring of each judgement against its ground truth, on hand-made truths (no footage)."""

from __future__ import annotations

import numpy as np

from sora_model.evalset import dupset, qualityset, shotset, tune_cuts


def _video() -> shotset.CutVideo:
    return shotset.CutVideo(path="x.mp4", fps=25.0, frames=200, transitions=[
        shotset.Transition("hard", 50, 50), shotset.Transition("dissolve", 100, 119),
        shotset.Transition("fade", 150, 165)], events=[shotset.Event("flash", 70, 71), shotset.Event("dark", 120, 149)])


def test_a_transition_is_found_once_within_tolerance_and_every_other_cut_is_false():
    scores = shotset.score(_video(), [52, 56, 71, 105, 110, 130, 151])
    assert (scores["hard"].tp, scores["dissolve"].tp, scores["fade"].tp) == (1, 1, 1)
    assert scores["dissolve"].fp == 1  # a second cut inside the same dissolve
    assert (scores["flash"].fp, scores["dark"].fp) == (1, 1)
    assert (scores["all"].tp, scores["all"].fp, scores["all"].fn) == (3, 4, 0)
    missed = shotset.score(_video(), [47, 123])
    assert (missed["all"].tp, missed["all"].fn) == (0, 3)


def test_cut_labels_mark_the_transitions_and_leave_their_edges_out():
    y, weight = tune_cuts.labels(_video(), 200)
    assert len(y) == 199  # boundaries before frames 1..199
    assert y[50 - 1] == 1 and y[49 - 1] == 0 and weight[49 - 1] == 0 and weight[46 - 1] == 1
    assert y[100 - 1:121 - 1].all() and weight[100 - 1:121 - 1].all()  # a dissolve's whole span
    assert weight[98 - 1] == 0 and weight[122 - 1] == 0 and y.sum() == 1 + 21 + 17


def test_a_pair_is_a_duplicate_exactly_when_both_show_the_same_original():
    videos = [dupset.DupVideo("a", "A", "original"), dupset.DupVideo("a2", "A", "crop"),
              dupset.DupVideo("a3", "A", "trim"), dupset.DupVideo("b", "B", "original"),
              dupset.DupVideo("b2", "B", "black_intro"), dupset.DupVideo("c", "C boxed", "same_background")]
    scores = dupset.score(videos, [(0, 1), (1, 2), (3, 4), (4, 0), (5, 3)])
    assert (scores["all"].tp, scores["all"].fn, scores["all"].fp) == (3, 1, 2)
    assert (scores["copies"].tp, scores["copies"].fn) == (2, 1)  # a-a2, b-b2 found; a-a3 missed
    assert (scores["crop"].tp, scores["trim"].fn, scores["black_intro"].fp) == (1, 1, 1)
    assert scores["same_background"].fp == 1 and scores["all"].negatives == 15 - 4


def test_each_filter_is_scored_on_what_it_should_and_should_not_catch():
    s = [qualityset.Stretch("kept", "real", "x", 0, 50), qualityset.Stretch("kept", "dark", "x", 50, 100),
         qualityset.Stretch("blank", "black", "x", 100, 150), qualityset.Stretch("frozen", "held", "x", 150, 200)]
    scores = qualityset.score(s, ["kept", "blank", "blank", "kept"])
    assert (scores["blank"].tp, scores["blank"].fp, scores["frozen"].fn) == (1, 1, 1)
    assert (scores["dark_kept"].tp, scores["dark_kept"].fp) == (0, 1)
    assert np.isclose(scores["blank"].precision, 0.5)
