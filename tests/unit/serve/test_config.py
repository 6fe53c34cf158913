from __future__ import annotations

import pytest

from sora_model import config as config_lib
from sora_model.serve.config import ServeConfig


def test_the_token_comes_from_the_environment_or_the_file_never_from_the_config(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_SERVE_TOKEN", "t" * 24)
    cfg = ServeConfig()
    assert cfg.token() == "t" * 24
    assert "t" * 24 not in config_lib.to_yaml(cfg)
    monkeypatch.delenv("SORA_SERVE_TOKEN")
    secret = tmp_path / "token"
    secret.write_text("s" * 32 + "\n")
    assert ServeConfig(token_file=str(secret)).token() == "s" * 32


@pytest.mark.parametrize("value", ["", "short"])
def test_no_token_or_a_short_one_refuses_to_start_and_says_where_to_put_one(monkeypatch, value):
    monkeypatch.setenv("SORA_SERVE_TOKEN", value)
    with pytest.raises(ValueError, match="SORA_SERVE_TOKEN"):
        ServeConfig().token()


def test_a_missing_token_file_is_named(monkeypatch, tmp_path):
    monkeypatch.delenv("SORA_SERVE_TOKEN", raising=False)
    with pytest.raises(ValueError, match="cannot be read"):
        ServeConfig(token_file=str(tmp_path / "absent")).token()


@pytest.mark.parametrize("override, match", [("port=70000", "port"), ("max_body_mb=0", "max_body_mb"),
                                             ("concurrency=0", "concurrency"), ("name=Bad/Name", "stream name")])
def test_bad_settings_are_refused_with_the_value(override, match):
    with pytest.raises(config_lib.ConfigError, match=match):
        config_lib.load(ServeConfig, None, [override])


def test_it_binds_this_machine_only_unless_told_otherwise():
    assert ServeConfig().host == "127.0.0.1"
