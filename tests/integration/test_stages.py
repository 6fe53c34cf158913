"""The curate plan as declared stages: order, what each reads and writes, timing, skipping, and the Spark work each
stage asked for."""

from __future__ import annotations

import dataclasses

import pytest

from pipelines.curate import _INITIAL
from pipelines.curate_stages import STAGES
from pipelines.stage import Stage, check_plan, run_stages


def test_curate_runs_its_stages_in_the_documented_order():
    assert [s.name for s in STAGES] == ["ingest", "probe", "clean", "decode", "tables", "register"]
    check_plan(STAGES, _INITIAL)


def test_a_stage_that_reads_what_nothing_wrote_is_refused():
    probe_first = (STAGES[1], STAGES[0], *STAGES[2:])
    with pytest.raises(RuntimeError, match="stage 'probe' reads \\['new_files'\\]"):
        check_plan(probe_first, _INITIAL)


@dataclasses.dataclass
class _State:
    items: list[int]
    doubled: list[int] | None = None


class _Double(Stage):
    name, about, reads, writes = "double", "x2", ("items",), ("doubled",)

    def run(self, state: _State) -> None:
        state.doubled = [2 * i for i in state.items]


class _Nothing(Stage):
    name, about, reads = "nothing", "skipped when empty", ("items",)

    def skip(self, state: _State) -> bool:
        return not state.items

    def run(self, state: _State) -> None:
        raise AssertionError("a skipped stage must not run")


def test_run_stages_times_what_ran_and_skips_the_rest():
    state = _State(items=[])
    times = run_stages((_Double(), _Nothing()), state)
    assert list(times) == ["double"] and times["double"] >= 0 and state.doubled == []


def test_duplicate_stage_names_are_a_bug():
    with pytest.raises(RuntimeError, match="unique"):
        check_plan((_Double(), _Double()), {"items"})


class _Count(Stage):
    name, about = "count", "two Spark jobs"

    def run(self, state: _State) -> None:
        state.spark.range(10, numPartitions=3).count()
        state.spark.range(5, numPartitions=2).collect()


def test_each_stage_reports_the_spark_jobs_and_tasks_it_ran(spark):
    state = _State(items=[1])
    state.spark = spark
    work = {}
    run_stages((_Double(), _Count()), state, spark.sparkContext, work)
    assert work["double"].jobs == 0 and work["count"].jobs >= 2 and work["count"].tasks >= 5
    # The job group is cleared afterwards: later jobs are nobody's stage.
    assert spark.sparkContext.getLocalProperty("spark.jobGroup.id") is None
