from __future__ import annotations

import pytest

from pipelines.curate import CurateConfig
from pipelines.stream_score import StreamScoreConfig
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


JOB_CONFIGS = {"": "pipelines.curate:CurateConfig", "train": "sora_model.train.loop:TrainConfig",
               "compress": "sora_model.deploy.compress:CompressConfig", "score": "pipelines.score:ScoreConfig",
               "cycle": "pipelines.cycle:CycleConfig", "serve": "sora_model.serve.config:ServeConfig"}


def _conf_class(folder: str) -> type:
    import importlib

    module, name = JOB_CONFIGS[folder].split(":")
    return getattr(importlib.import_module(module), name)


def test_every_conf_file_loads_with_its_jobs_config():
    from pathlib import Path

    conf = Path(__file__).resolve().parents[2] / "conf"
    files = sorted(conf.rglob("*.yaml"))
    assert {p.relative_to(conf).as_posix() for p in files} >= {
        "local.yaml", "cluster.yaml", *(f"{job}/{kind}.yaml" for job in JOB_CONFIGS if job
                                        for kind in ("local", "cluster"))}
    for path in files:
        folder = path.parent.relative_to(conf).as_posix().replace(".", "")
        config_lib.load(_conf_class(folder), path)
    for path in conf.glob("score/*.yaml"):  # the streaming job takes the scoring confs too
        config_lib.load(StreamScoreConfig, path)


def test_the_cluster_confs_name_one_dataset_and_one_lake_in_the_object_store():
    from pathlib import Path

    conf = Path(__file__).resolve().parents[2] / "conf"
    cfgs = {job: config_lib.load(_conf_class(job), conf / (f"{job}/cluster.yaml" if job else "cluster.yaml"))
            for job in JOB_CONFIGS}
    assert {c.lake_uri for c in cfgs.values()} == {"s3a://bucket/lake"}
    assert {cfgs[j].dataset for j in ("", "train", "cycle")} == {"motion"}
    cycle = cfgs["cycle"]
    assert cycle.curate_cfg == cfgs[""] and cycle.launch == "auto" and cycle.curate.spark.master is None
    # Every shuffle follows the input's size: no conf fixes a partition count.
    assert not [p for p in conf.rglob("*.yaml") if "shuffle.partitions" in p.read_text()]


def test_the_cycle_applies_one_object_store_to_every_step():
    from pipelines.cycle import CycleConfig
    from sora_model.lake.object_store import ObjectStoreConfig

    store = ObjectStoreConfig(endpoint_url="http://127.0.0.1:9000", region="eu-west-1")
    cfg = config_lib.load(CycleConfig, None, ["object_store.endpoint_url=http://127.0.0.1:9000",
                                              "object_store.region=eu-west-1"])
    assert cfg.object_store == store
    assert {cfg.curate_cfg.object_store, cfg.train_cfg(1, None).object_store, cfg.compress_cfg("r", 0).object_store,
            cfg.score_cfg().object_store} == {store}
    # A step's section completes the top-level one (a cycle conf includes the job confs, each with its own)...
    cfg = config_lib.load(CycleConfig, None, ["curate.object_store.endpoint_url=http://127.0.0.1:9000",
                                              "train.object_store.region=eu-west-1"])
    assert {cfg.curate_cfg.object_store, cfg.score_cfg().object_store} == {store} == {cfg.object_store}
    # ...and a setting two sections give differently is refused, naming both.
    with pytest.raises(ConfigError, match=r"curate.object_store.endpoint_url='http://elsewhere:9000' but "
                                          r"object_store.endpoint_url='http://127.0.0.1:9000'"):
        config_lib.load(CycleConfig, None, ["object_store.endpoint_url=http://127.0.0.1:9000",
                                            "curate.object_store.endpoint_url=http://elsewhere:9000"])


def test_a_mode_outside_its_literal_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match="clip.mode: expected one of fixed, shots, got 'shot'"):
        config_lib.load(CurateConfig, None, ["clip.mode=shot"])
    with pytest.raises(ConfigError, match="variants: expected one of onnx"):
        config_lib.load(CompressConfig, None, ["variants=[onnx,int4]"])


SECRET = "sora-test-secret-3f9a"


def test_secrets_are_redacted_wherever_a_config_is_saved_or_shown(tmp_path):
    from sora_model.tracking import flat_params

    conf = tmp_path / "job.yaml"
    conf.write_text(f"spark:\n  conf:\n    spark.hadoop.fs.s3a.secret.key: {SECRET}\n"
                    f"object_store:\n  endpoint_url: http://keyid:{SECRET}@127.0.0.1:9000\n")
    cfg = config_lib.load(CurateConfig, conf, [f"spark.conf.spark.hadoop.fs.s3a.access.key={SECRET}-cli",
                                               f"spark.conf.spark.datasource.token={SECRET}-token"])
    assert cfg.spark.conf["spark.hadoop.fs.s3a.secret.key"] == SECRET  # the job itself still has it
    saved = config_lib.to_yaml(cfg)
    assert SECRET not in saved and saved.count(config_lib.REDACTED) == 4
    assert "http://keyid:<redacted>@127.0.0.1:9000" in saved and "spark.sql.shuffle.partitions" not in saved
    assert not any(SECRET in v for v in flat_params(cfg).values())
    tree = {"a": {"password": "", "db_password": None, "tokens_per_batch": 4, "secretKey": "x", "apiKey": "y",
                  "AWS_SECRET_ACCESS_KEY": "z", "keyframes": 3, "monkey": "banana"}}
    assert config_lib.redacted(tree) == {"a": {
        "password": "", "db_password": None, "tokens_per_batch": 4, "secretKey": config_lib.REDACTED,
        "apiKey": config_lib.REDACTED, "AWS_SECRET_ACCESS_KEY": config_lib.REDACTED, "keyframes": 3,
        "monkey": "banana"}}


def test_a_secret_under_an_unknown_key_is_not_echoed_by_the_error():
    with pytest.raises(ConfigError) as e:
        config_lib.load(CurateConfig, None, [f"object_store.secret_access_key={SECRET}"])
    assert "object_store.secret_access_key" in str(e.value) and SECRET not in str(e.value)


def test_a_section_or_a_string_field_takes_either_and_keeps_the_keywords_yaml_types():
    from pathlib import Path

    from sora_model.train.loop import TrainConfig
    from sora_model.train.model import ModelConfig

    conf = Path(__file__).parents[2] / "conf" / "train" / "local.yaml"
    builtin = config_lib.load(TrainConfig, conf, ["model.widths=[8,16]"])
    assert isinstance(builtin.model, ModelConfig) and builtin.model.widths == (8, 16)
    own = config_lib.load(TrainConfig, conf, ["model=my_models:VideoNet", "model_args.hidden=32",
                                              "model_args.kinds=[a,b]", "model_args.dropout=0.5"])
    assert own.model == "my_models:VideoNet"
    assert own.model_args == {"hidden": 32, "kinds": ["a", "b"], "dropout": 0.5}
    again = config_lib.build(TrainConfig, __import__("yaml").safe_load(config_lib.to_yaml(own)))
    assert again == own  # a run's saved config.yaml resumes it
    with pytest.raises(ConfigError, match=r"model: expected a mapping of ModelConfig keys or a string, got 3"):
        config_lib.load(TrainConfig, None, ["model=3"])
    rows = {key: (default, doc) for key, default, doc in config_lib.describe(TrainConfig)}
    assert rows["model"][0] == "the model.* section" and "import path" in rows["model"][1]
    assert rows["model.widths"][0] == "(16, 32, 64)"


def test_the_cycle_refuses_to_deploy_channel_pruning_of_a_users_model_class():
    from pipelines.cycle import CycleConfig

    with pytest.raises(ConfigError, match=r"deploy_variant 'pruned-channels' needs the built-in model .*'my:Net'"):
        config_lib.load(CycleConfig, None, ["train.model=my:Net", "deploy_variant=pruned-channels",
                                            "compress.variants=[onnx,pruned-channels]"])
    assert config_lib.load(CycleConfig, None, ["deploy_variant=pruned-channels",
                                               "compress.variants=[pruned-channels]"]).deploy_variant
