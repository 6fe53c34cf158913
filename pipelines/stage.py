"""A stage is a thing you can point at: a name, what it reads from a run's state and what it writes there.

A run lists its stages in order in one place; :func:`run_stages` times them and prints the progress lines, and
:func:`check_plan` proves, without running anything, that every stage reads only what the run starts with or
what an earlier stage wrote.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

logger = logging.getLogger(__name__)


class Stage:
    name: ClassVar[str]
    """Short name: the summary's time per stage and the progress lines use it."""
    about: ClassVar[str]
    """What the stage does, in a few words, for the progress line."""
    reads: ClassVar[tuple[str, ...]] = ()
    """State fields the stage needs."""
    writes: ClassVar[tuple[str, ...]] = ()
    """State fields the stage sets."""

    def skip(self, state: Any) -> bool:  # noqa: ANN401 - each run has its own state type
        """True when there is nothing for this stage to do in this run."""
        return False

    def run(self, state: Any) -> None:  # noqa: ANN401
        raise NotImplementedError


def check_plan(stages: Sequence[Stage], initial: Iterable[str]) -> None:
    """Raise when a stage reads a field nothing before it provides, or two stages share a name."""
    available = set(initial)
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise RuntimeError(f"bug: stage names must be unique, got {names}")
    for stage in stages:
        missing = [r for r in stage.reads if r not in available]
        if missing:
            raise RuntimeError(f"bug: stage {stage.name!r} reads {missing}, which no earlier stage writes")
        available.update(stage.writes)


@dataclass
class SparkWork:
    """What a stage asked of Spark: jobs, stages run (skipped ones not counted) and tasks completed."""

    jobs: int = 0
    stages: int = 0
    tasks: int = 0

    def __str__(self) -> str:
        return f"{self.jobs} Spark jobs, {self.stages} stages, {self.tasks} tasks"


def spark_work(sc: Any, group: str) -> SparkWork:  # noqa: ANN401 - a SparkContext (pyspark stays out of here)
    """The jobs Spark ran in job group ``group`` (from its status tracker, which keeps spark.ui.retainedJobs)."""
    tracker, work, seen = sc.statusTracker(), SparkWork(), set()
    for job_id in tracker.getJobIdsForGroup(group):
        job = tracker.getJobInfo(job_id)
        work.jobs += 1
        for stage_id in job.stageIds if job else ():
            info = tracker.getStageInfo(stage_id)
            if info is not None and stage_id not in seen and info.numCompletedTasks:
                seen.add(stage_id)
                work.stages += 1
                work.tasks += info.numCompletedTasks
    return work


def run_stages(stages: Sequence[Stage], state: Any, sc: Any = None,  # noqa: ANN401
               work: dict[str, SparkWork] | None = None) -> dict[str, float]:
    """Run the stages in order (skipping those with nothing to do); returns wall seconds per stage run.

    With a SparkContext ``sc``, each stage's Spark jobs run in a job group of their own, and ``work`` (when given)
    receives what each stage asked of Spark: the first thing to look at when a stage is slow on little data."""
    times: dict[str, float] = {}
    for i, stage in enumerate(stages, start=1):
        if stage.skip(state):
            continue
        logger.info("stage %d/%d %s: %s ...", i, len(stages), stage.name, stage.about)
        group = f"{stage.name}-{uuid.uuid4().hex[:8]}"
        if sc is not None:
            sc.setJobGroup(group, f"{stage.name}: {stage.about}")
        start = time.perf_counter()
        try:
            stage.run(state)
        finally:
            if sc is not None:
                sc.setLocalProperty("spark.jobGroup.id", None)
                sc.setLocalProperty("spark.job.description", None)
        times[stage.name] = round(time.perf_counter() - start, 2)
        done = spark_work(sc, group) if sc is not None else None
        if done is not None and work is not None:
            work[stage.name] = done
        logger.info("stage %s done in %.1fs%s", stage.name, times[stage.name], f" ({done})" if done else "")
    return times
