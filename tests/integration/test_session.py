"""Who decides the Spark settings: spark-submit's flags > the job's config > defaults (pure functions, no JVM)."""

from __future__ import annotations

from pipelines.session import SparkConfig, session_settings, submitted_settings


def test_spark_submit_flags_are_read_up_to_the_application_file():
    argv = ["--master", "spark://127.0.0.1:7077", "--conf", "spark.sql.shuffle.partitions=3",
            "--conf=spark.ui.enabled=false", "--driver-memory", "2g", "--verbose", "--class", "x.Y",
            "--py-files", "dist/sora_model.zip", "jobs/curate.py", "--master", "app-arg", "spark.master=local[2]"]
    assert submitted_settings(argv) == {
        "spark.master": "spark://127.0.0.1:7077", "spark.sql.shuffle.partitions": "3", "spark.ui.enabled": "false",
        "spark.driver.memory": "2g", "spark.submit.pyFiles": "dist/sora_model.zip"}


def test_under_spark_submit_its_flags_win_over_the_config():
    cfg = SparkConfig(master="local[2]", conf={"spark.sql.shuffle.partitions": "8", "spark.driver.memory": "4g"})
    master, conf = session_settings(cfg, {"spark.master": "local[1]", "spark.sql.shuffle.partitions": "3"})
    assert master is None  # left to spark-submit
    assert "spark.sql.shuffle.partitions" not in conf and conf["spark.driver.memory"] == "4g"


def test_the_config_names_the_master_when_spark_submit_did_not():
    master, _ = session_settings(SparkConfig(master="local[2]"), {})
    assert master == "local[2]"
    assert session_settings(SparkConfig(), {})[0] is None  # spark-submit's own default (or spark-defaults.conf)


def test_plain_python_runs_locally_unless_the_config_says_otherwise():
    assert session_settings(SparkConfig(), None)[0] == "local[*]"
    assert session_settings(SparkConfig(master="spark://h:7077"), None)[0] == "spark://h:7077"


def test_object_store_settings_reach_the_executors_but_credentials_do_not(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-spark-conf")
    _, conf = session_settings(SparkConfig(), None)
    assert conf["spark.executorEnv.AWS_ENDPOINT_URL"] == "http://127.0.0.1:9000"
    assert not any("not-for-spark-conf" in v for v in conf.values())


def test_a_job_applies_its_object_store_section_before_it_runs(monkeypatch):
    from jobs.cli import parse, parser_for
    from sora_model.train.loop import TrainConfig

    monkeypatch.setenv("AWS_ENDPOINT_URL", "placeholder")  # restored after the test
    monkeypatch.setenv("AWS_REGION", "placeholder")
    _, cfg = parse(parser_for(TrainConfig, "", "t"), TrainConfig,
                   ["object_store.endpoint_url=http://127.0.0.1:9000", "object_store.region=eu-west-1"])
    import os

    assert cfg.object_store.endpoint_url == "http://127.0.0.1:9000"
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9000" and os.environ["AWS_REGION"] == "eu-west-1"


def test_archives_shipped_with_py_files_are_importable_by_processes_executors_start():
    _, conf = session_settings(SparkConfig(), {"spark.master": "spark://h:7077",
                                               "spark.submit.pyFiles": "/tmp/dist/sora_model.zip,deps.zip"})
    assert conf["spark.executorEnv.PYTHONPATH"] == "sora_model.zip:deps.zip"
    _, conf = session_settings(SparkConfig(), {"spark.submit.pyFiles": "a.zip", "spark.executorEnv.PYTHONPATH": "x"})
    assert "spark.executorEnv.PYTHONPATH" not in conf  # the user's own setting stands


def test_jars_spark_already_ships_are_left_out_so_one_hadoop_client_is_on_the_class_path():
    from pipelines.jars import without_spark_own

    ivy = ["/ivy/io.delta_delta-spark_4.2_2.13-4.4.0.jar", "/ivy/org.apache.hadoop_hadoop-aws-3.5.0.jar",
           "/ivy/org.apache.hadoop_hadoop-client-api-3.4.2.jar",
           "/ivy/org.apache.hadoop_hadoop-client-runtime-3.4.2.jar",
           "/ivy/org.apache.parquet_parquet-hadoop-1.16.0.jar", "/ivy/com.github.luben_zstd-jni-1.5.7-3.jar",
           "/ivy/commons-pool_commons-pool-1.6.jar", "/ivy/software.amazon.awssdk_bundle-2.35.4.jar"]
    assert without_spark_own(ivy) == ["/ivy/io.delta_delta-spark_4.2_2.13-4.4.0.jar",
                                      "/ivy/org.apache.hadoop_hadoop-aws-3.5.0.jar",
                                      "/ivy/software.amazon.awssdk_bundle-2.35.4.jar"]


def test_a_jars_folder_on_the_workers_replaces_shipping_and_a_missing_jar_is_named(tmp_path, monkeypatch):
    import pytest

    from pipelines.jars import jars_on_workers
    from pipelines.session import SparkConfig, install_spark_defaults, session_settings

    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path / "conf"))
    install_spark_defaults(jars_dir=str(tmp_path / "jars"))
    defaults = (tmp_path / "conf" / "spark-defaults.conf").read_text()
    assert f"spark.executor.extraClassPath {tmp_path / 'jars'}/*" in defaults and "spark.jars " not in defaults
    jars = jars_on_workers()
    assert any("delta-spark" in j for j in jars) and all(j.startswith(str(tmp_path / "jars")) for j in jars)
    _, conf = session_settings(SparkConfig(), None)
    assert "spark.jars" not in conf and "spark.jars.packages" not in conf  # nothing is shipped
    (tmp_path / "jars" / "org.apache.hadoop_hadoop-aws-3.5.0.jar").unlink()
    with pytest.raises(RuntimeError, match=r"lacks 1 of the jars it should hold \(e.g. org.apache.hadoop_hadoop-aws"
                                           r"-3.5.0.jar\): run `python -m jobs.spark_setup --jars-dir"):
        session_settings(SparkConfig(), None)


def test_a_driver_without_executors_says_what_each_asks_for_and_what_to_do():
    from pipelines.session import waiting_for_executors

    line = waiting_for_executors([("spark.executor.memory", "8g"), ("spark.executor.cores", "4"),
                                  ("spark.executor.resource.gpu.amount", "1"), ("spark.app.name", "x")], 30)
    assert line.startswith("no executor has started in 30 s")
    for asked in ("spark.executor.memory=8g", "spark.executor.cores=4", "spark.executor.resource.gpu.amount=1"):
        assert asked in line
    assert "spark.app.name" not in line and "--conf spark.executor.memory=" in line
    assert "spark.executor.cores=(all a worker has)" in waiting_for_executors([], 30)


def test_shuffles_follow_the_input_unless_the_user_set_their_number(spark):
    from pipelines.session import size_shuffles

    size_shuffles(spark, 7)  # the session's conf names 4: the user's word
    assert spark.conf.get("spark.sql.shuffle.partitions") == "4"


def test_ranks_start_on_the_driver_of_a_local_master_and_without_gpus_it_was_not_given(spark):
    from pipelines.train import ranks_on_executors, ranks_use_gpus

    assert not ranks_on_executors(spark) and not ranks_use_gpus(spark)
