from __future__ import annotations

import numpy as np
import pytest

from sora_model.video.clips import ClipConfig, Span, WindowFrames, fixed_spans, sample_indices, shot_spans


def test_fixed_spans_tile_the_video_and_keep_a_long_enough_tail():
    cfg = ClipConfig(clip_len_s=2.0, stride_s=2.0, min_clip_len_s=1.0)
    assert fixed_spans(110, 25.0, cfg) == [Span(0, 50), Span(50, 100)]  # tail of 10 frames < 25
    assert fixed_spans(130, 25.0, cfg) == [Span(0, 50), Span(50, 100), Span(100, 130)]


def test_overlapping_windows_with_stride():
    spans = fixed_spans(100, 10.0, ClipConfig(clip_len_s=4.0, stride_s=2.0, min_clip_len_s=2.0))
    assert spans == [Span(0, 40), Span(20, 60), Span(40, 80), Span(60, 100), Span(80, 100)]


def test_video_shorter_than_min_clip_has_no_spans():
    assert fixed_spans(10, 25.0, ClipConfig(min_clip_len_s=1.0)) == []


def test_shot_spans_never_cross_a_cut():
    cfg = ClipConfig(clip_len_s=2.0, stride_s=1.0, min_clip_len_s=1.0)
    cuts = [37, 90]
    spans = shot_spans(150, 20.0, cuts, cfg)
    assert spans
    for span in spans:
        assert not any(span.start_frame < c < span.end_frame for c in cuts)
        assert span.length >= 20
    assert Span(37, 77) in spans and Span(90, 130) in spans


def test_sample_indices_are_uniform_inside_the_span():
    idx = sample_indices(Span(100, 180), 8)
    assert idx.tolist() == [105, 115, 125, 135, 145, 155, 165, 175]
    short = sample_indices(Span(10, 13), 8)
    assert short.min() >= 10 and short.max() <= 12 and np.all(np.diff(short) >= 0)


def test_window_frames_round_to_whole_frames():
    win = WindowFrames.of(29.97, ClipConfig(clip_len_s=2.0, stride_s=1.0, min_clip_len_s=1.0))
    assert (win.length, win.stride, win.min_length) == (60, 30, 30)


@pytest.mark.parametrize("kwargs", [{"mode": "scenes"}, {"clip_len_s": 0}, {"min_clip_len_s": 5.0},
                                    {"cut_threshold": 1.5}])
def test_bad_clip_config_is_refused(kwargs):
    with pytest.raises(ValueError):
        ClipConfig(**kwargs)
