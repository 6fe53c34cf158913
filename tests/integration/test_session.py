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
