"""Airflow DAG: the update cycle (``jobs/cycle.py``) of one lake on a schedule.

Put this file (or a link to it) in Airflow's dags folder. It reads its settings from the environment of the
Airflow worker, so one file serves every deployment:

    SORA_HOME           the project checkout (jobs/, conf/); default: two folders above this file
    SORA_SPARK_SUBMIT   the spark-submit to run; default: $SORA_HOME/.venv/bin/spark-submit
    SORA_CYCLE_CONF     the cycle's conf file, relative to SORA_HOME; default: conf/cycle/local.yaml
    SORA_SPARK_ARGS     spark-submit's own flags, e.g. "--master spark://m:7077 --py-files dist/sora_model.zip"
    SORA_CYCLE_ARGS     the cycle's key=value overrides, e.g. "lake_uri=s3://b/lake input_uri=s3://b/incoming"
    SORA_CYCLE_SCHEDULE cron expression or preset; default: @hourly
    SORA_CYCLE_RETRIES  retries of a failed or busy run; default: 2, SORA_CYCLE_RETRY_DELAY_S apart (600)

One run at a time (``max_active_runs=1``; the lake's own lock also stops a second writer). The task maps the
cycle's exit status: 0 is success; 75 (another run is writing the lake) and any other failure are retried;
3 (monitoring raised an alert) fails the task at once, without retries, so the DAG's failure alerting pages
someone (a retry would find the version decided and succeed, hiding the alert).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException

EXIT_ALERT = 3
EXIT_LAKE_BUSY = 75


def cycle_command() -> tuple[list[str], Path]:
    """The spark-submit command line of one cycle, and the folder to run it in."""
    home = Path(os.environ.get("SORA_HOME", Path(__file__).resolve().parents[2]))
    submit = os.environ.get("SORA_SPARK_SUBMIT", str(home / ".venv" / "bin" / "spark-submit"))
    conf = os.environ.get("SORA_CYCLE_CONF", "conf/cycle/local.yaml")
    spark_args = shlex.split(os.environ.get("SORA_SPARK_ARGS", ""))
    overrides = shlex.split(os.environ.get("SORA_CYCLE_ARGS", ""))
    return [*shlex.split(submit), *spark_args, "jobs/cycle.py", "--conf-file", conf, *overrides], home


with DAG(
    dag_id="sora_cycle",
    description="curate new videos, train and compare a candidate, promote or keep, score, monitor",
    schedule=os.environ.get("SORA_CYCLE_SCHEDULE", "@hourly"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": int(os.environ.get("SORA_CYCLE_RETRIES", "2")),
                  "retry_delay": timedelta(seconds=float(os.environ.get("SORA_CYCLE_RETRY_DELAY_S", "600")))},
    tags=["sora_model"],
) as dag:

    @task(task_id="cycle")
    def run_cycle() -> int:
        cmd, home = cycle_command()
        print("running:", shlex.join(cmd), flush=True)
        # pip's spark-submit finds Spark through the python3 on PATH: the venv it belongs to goes first (an Airflow
        # worker's PATH has Airflow's own Python, without pyspark: "Could not find valid SPARK_HOME").
        bin_dir = os.path.dirname(cmd[0])
        env = {**os.environ, "PATH": os.pathsep.join(p for p in (bin_dir, os.environ.get("PATH", "")) if p)}
        status = subprocess.run(cmd, cwd=home, env=env).returncode
        if status == EXIT_ALERT:
            raise AirflowFailException("the cycle ran and monitoring raised an alert (see the task log and the "
                                       "lake's monitoring table)")
        if status == EXIT_LAKE_BUSY:
            raise AirflowException("another run is writing the lake; retrying later")
        if status != 0:
            raise AirflowException(f"the cycle failed with exit status {status} (see the task log)")
        return status

    run_cycle()
