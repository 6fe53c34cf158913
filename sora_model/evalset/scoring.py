"""Counts of a judgement against ground truth, and the ratios every evaluation set reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Score:
    tp: int = 0
    """Found, and so in the truth."""
    fp: int = 0
    """Found, not in the truth."""
    fn: int = 0
    """In the truth, not found."""
    negatives: int = 0
    """Cases that are not in the truth (where they are counted: pairs of distinct videos)."""

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, other: Score) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        self.negatives += other.negatives
