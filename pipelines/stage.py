"""A stage is a thing you can point at: a name, what it reads from a run's state and what it writes there.

A run lists its stages in order in one place; :func:`run_stages` times them and prints the progress lines, and
:func:`check_plan` proves, without running anything, that every stage reads only what the run starts with or
what an earlier stage wrote.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
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


def run_stages(stages: Sequence[Stage], state: Any) -> dict[str, float]:  # noqa: ANN401
    """Run the stages in order (skipping those with nothing to do); returns wall seconds per stage run."""
    times: dict[str, float] = {}
    for i, stage in enumerate(stages, start=1):
        if stage.skip(state):
            continue
        logger.info("stage %d/%d %s: %s ...", i, len(stages), stage.name, stage.about)
        start = time.perf_counter()
        stage.run(state)
        times[stage.name] = round(time.perf_counter() - start, 2)
        logger.info("stage %s done in %.1fs", stage.name, times[stage.name])
    return times
