from __future__ import annotations

import dataclasses

import pytest

from sora_model.video import rejects
from sora_model.video.clean import CleanConfig, check
from sora_model.video.probe import ProbeResult

GOOD = ProbeResult(container="mp4", codec="h264", width_px=160, height_px=120, fps=25.0, duration_s=4.0,
                   frame_count=100)


def test_good_video_passes():
    assert check(GOOD, CleanConfig()) is None


@pytest.mark.parametrize("change, reason", [
    ({"duration_s": 0.5, "frame_count": 12}, rejects.TOO_SHORT),
    ({"width_px": 48}, rejects.TOO_SMALL),
    ({"height_px": 32}, rejects.TOO_SMALL),
    ({"fps": 0.0}, rejects.BAD_METADATA),
    ({"fps": 90000.0}, rejects.BAD_METADATA),
    ({"width_px": 100000}, rejects.BAD_METADATA),
    ({"frame_count": 0}, rejects.BAD_METADATA),
    ({"duration_s": 1e9}, rejects.BAD_METADATA),
])
def test_gate_rejects_with_a_reason(change, reason):
    result = check(dataclasses.replace(GOOD, **change), CleanConfig())
    assert result is not None and result.reason == reason and result.stage == "clean"


def test_thresholds_come_from_config():
    assert check(GOOD, CleanConfig(min_duration_s=5.0)).reason == rejects.TOO_SHORT
    assert check(GOOD, CleanConfig(min_width_px=200)).reason == rejects.TOO_SMALL


def test_config_checks_its_values():
    with pytest.raises(ValueError, match="min_duration_s"):
        CleanConfig(min_duration_s=-1)
