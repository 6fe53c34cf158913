"""One table of every benchmark's ratios.

Each bench script calls :func:`record` next to the ratio it prints; ``bench/run.py`` (``make bench``) runs the
scripts, then prints every recorded ratio in one table (figure, baseline, ratio, goal) and saves it as JSON under
``bench/results/`` so a later run on the same machine can be compared with it. Run alone, a script records
nothing (the environment variable below is unset) and prints as before.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

RESULTS_ENV = "SORA_BENCH_RESULTS"
"""JSON-lines file the running benches append their ratios to (set by bench/run.py)."""


@dataclass(frozen=True)
class Ratio:
    bench: str
    """The script that measured it (decode, loader, ...)."""
    name: str
    """What the ratio compares, in words."""
    figure: float
    """The measured value (numerator), in ``unit``."""
    baseline: float
    """The value it is compared with, measured in the same run, in ``unit``."""
    unit: str
    goal_min: float | None = None
    """The ratio should be at least this (None: no lower goal)."""
    goal_max: float | None = None
    """The ratio should be at most this (None: no upper goal)."""

    @property
    def ratio(self) -> float:
        return self.figure / self.baseline if self.baseline else float("nan")

    @property
    def goal(self) -> str:
        if self.goal_min is not None:
            return f">= {self.goal_min:g}"
        return f"<= {self.goal_max:g}" if self.goal_max is not None else "-"

    @property
    def met(self) -> bool | None:
        if self.goal_min is not None:
            return self.ratio >= self.goal_min
        return self.ratio <= self.goal_max if self.goal_max is not None else None


def record(ratio: Ratio) -> None:
    """Append ``ratio`` to the run's results file, when bench/run.py started this script."""
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(asdict(ratio)) + "\n")


def load(path: str) -> list[Ratio]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [Ratio(**json.loads(line)) for line in f if line.strip()]


def table(ratios: list[Ratio]) -> str:
    head = f"{'bench':<12} {'ratio':<58} {'figure':>10} {'baseline':>10} {'unit':<9} {'ratio':>6} {'goal':>7} met"
    lines = [head, "-" * len(head)]
    for r in ratios:
        met = {True: "yes", False: "NO", None: ""}[r.met]
        lines.append(f"{r.bench:<12} {r.name:<58} {r.figure:10.4g} {r.baseline:10.4g} {r.unit:<9} {r.ratio:6.2f} "
                     f"{r.goal:>7} {met}")
    return "\n".join(lines)
