from __future__ import annotations

import pytest

from pipelines.curate import CurateConfig
from sora_model import config as config_lib
from sora_model.config import ConfigError
from sora_model.deploy.compress import CompressConfig


def test_precedence_is_cli_over_yaml_over_defaults(tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text("dataset: from_yaml\ndecode:\n  height_px: 32\n  width_px: 48\n")
    cfg = config_lib.load(CurateConfig, conf, ["decode.height_px=96"])
    assert cfg.dataset == "from_yaml"
    assert cfg.decode.height_px == 96
    assert cfg.decode.width_px == 48
    assert cfg.decode.frames_per_clip == CurateConfig().decode.frames_per_clip


def test_unknown_key_names_the_typo(tmp_path):
    with pytest.raises(ConfigError, match="decode.heigth_px"):
        config_lib.load(CurateConfig, None, ["decode.heigth_px=3"])


def test_invalid_value_is_a_config_error_naming_the_section():
    with pytest.raises(ConfigError, match="clip"):
        config_lib.load(CurateConfig, None, ["clip.clip_len_s=-1"])
    with pytest.raises(ConfigError, match="expected int"):
        config_lib.load(CurateConfig, None, ["decode.height_px=tall"])


def test_an_override_that_is_not_yaml_is_a_config_error_naming_it():
    # The shell kept a quote: "train.model.widths='[8,16]'" arrives as [8,16]' .
    with pytest.raises(ConfigError, match=r"override \"decode.height_px=\[8,16\]'\": its value is not YAML"):
        config_lib.load(CurateConfig, None, ["decode.height_px=[8,16]'"])


def test_dotted_spark_conf_override_is_joined_back():
    cfg = config_lib.load(CurateConfig, None, ["spark.conf.spark.ui.enabled=false"])
    assert cfg.spark.conf == {"spark.ui.enabled": "false"}


def test_list_and_null_values():
    cfg = config_lib.load(CurateConfig, None,
                          ["listing.ignore=[labels.csv,.*]", "labels_csv=null", "augment.splits=train,val"])
    assert cfg.listing.ignore == ("labels.csv", ".*")
    assert cfg.labels_csv is None
    assert cfg.augment.splits == ("train", "val")


def test_resolved_yaml_round_trips(tmp_path):
    cfg = config_lib.load(CurateConfig, None, ["clip.mode=shots", "augment.copies=2"])
    path = tmp_path / "resolved.yaml"
    path.write_text(config_lib.to_yaml(cfg))
    assert config_lib.load(CurateConfig, path) == cfg


def test_every_option_has_a_help_text():
    undocumented = [key for key, _, doc in config_lib.describe(CurateConfig) if not doc]
    assert undocumented == []
    text = config_lib.help_text(CurateConfig)
    assert "decode.frames_per_clip" in text and "clip.cut_threshold" in text


def test_local_yaml_loads(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for name in ("local.yaml", "cluster.example.yaml"):
        cfg = config_lib.load(CurateConfig, root / "conf" / name)
        assert cfg.decode.height_px > 0


def test_a_mode_outside_its_literal_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match="clip.mode: expected one of fixed, shots, got 'shot'"):
        config_lib.load(CurateConfig, None, ["clip.mode=shot"])
    with pytest.raises(ConfigError, match="variants: expected one of onnx"):
        config_lib.load(CompressConfig, None, ["variants=[onnx,int4]"])
