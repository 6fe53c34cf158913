"""Run by the Airflow environment's Python (tests/integration/test_airflow_dag.py): one ``dag.test()`` of the
cycle DAG; prints the run's state and each task's as one JSON line, exits 0 only when the run succeeded."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import datetime, timezone


def main(dag_file: str) -> int:
    spec = importlib.util.spec_from_file_location("sora_cycle_dag", dag_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run = module.dag.test(logical_date=datetime.now(timezone.utc))
    tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    print(json.dumps({"dag_id": module.dag.dag_id, "max_active_runs": module.dag.max_active_runs,
                      "state": str(run.state), "tasks": tasks}))
    return 0 if str(run.state) == "success" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
