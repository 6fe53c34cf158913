"""Model aliases: names such as ``production`` that point at a model, with their whole history.

Every change is a new entry (1, 2, ...) of the lake's ``aliases`` table, never an update: who set what, when and
why stays readable. An entry points at a training checkpoint (the model compared against and warm-started from)
and at the variant deployed from it (what ``score --model production`` runs; the checkpoint itself when none is).
``rollback`` points the alias back at what it pointed at before the current entry; rolling back again goes one
further back, like popping a stack, never forth and back between two models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Literal, get_args

PRODUCTION = "production"
"""The alias of the model in use: what the cycle compares candidates with and what scoring runs by default."""

AliasAction = Literal["set", "promote", "rollback"]
ACTIONS: tuple[str, ...] = get_args(AliasAction)
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def is_alias_name(text: str) -> bool:
    """Whether ``text`` is spelled like an alias (lower-case word), not a path or a models-table id."""
    return bool(_NAME.match(text))


@dataclass(frozen=True, kw_only=True)
class AliasEntry:
    alias: str
    seq: int
    """1 for the alias's first entry, then one more per change."""
    model_id: str
    """models-table id <run_id>/<epoch>/<variant> of the checkpoint."""
    model_uri: str
    deployed_id: str | None
    """models-table id of the variant deployed from that checkpoint (None: the checkpoint itself serves)."""
    deployed_uri: str | None
    action: AliasAction
    reason: str
    previous_seq: int | None
    """The entry a rollback from this one returns to."""
    set_by: str
    """Run id of the cycle that set it, or 'cli'."""
    set_at: datetime

    def __post_init__(self) -> None:
        if not is_alias_name(self.alias):
            raise ValueError(f"alias must be a lower-case word (letters, digits, '-', '_'), got {self.alias!r}")
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {self.action!r}")
        if (self.deployed_id is None) != (self.deployed_uri is None):
            raise ValueError(f"deployed_id and deployed_uri go together, got {self.deployed_id!r} and "
                             f"{self.deployed_uri!r}")

    @property
    def serving_id(self) -> str:
        return self.deployed_id or self.model_id

    @property
    def serving_uri(self) -> str:
        return self.deployed_uri or self.model_uri

    def describe(self) -> str:
        served = f" (serving {self.deployed_id})" if self.deployed_id else ""
        return (f"{self.alias} #{self.seq} {self.set_at:%Y-%m-%d %H:%M:%S} {self.action:<8} {self.model_id}{served}"
                f" by {self.set_by}: {self.reason}")


class AliasHistory:
    """The entries of one alias, oldest first; works out the next entry for a change."""

    def __init__(self, alias: str, entries: list[AliasEntry]) -> None:
        if not is_alias_name(alias):
            raise ValueError(f"alias must be a lower-case word (letters, digits, '-', '_'), got {alias!r}")
        self.alias = alias
        self.entries = sorted((e for e in entries if e.alias == alias), key=lambda e: e.seq)

    @classmethod
    def from_rows(cls, alias: str, rows: list[dict]) -> AliasHistory:
        """The history of ``alias`` from rows of the aliases table (any reader's: Spark Rows or delta-rs dicts)."""
        names = [f.name for f in fields(AliasEntry)]
        return cls(alias, [AliasEntry(**{k: r[k] for k in names}) for r in rows if r["alias"] == alias])

    @property
    def current(self) -> AliasEntry | None:
        return self.entries[-1] if self.entries else None

    def _entry(self, seq: int) -> AliasEntry:
        return next(e for e in self.entries if e.seq == seq)

    def point(self, model_id: str, model_uri: str, deployed_id: str | None, deployed_uri: str | None,
              action: AliasAction, reason: str, set_by: str, now: datetime) -> AliasEntry | None:
        """The entry that points the alias at this model; None when it already does (nothing to write)."""
        cur = self.current
        if cur is not None and (cur.model_id, cur.deployed_id) == (model_id, deployed_id):
            return None
        return AliasEntry(alias=self.alias, seq=(cur.seq + 1) if cur else 1, model_id=model_id, model_uri=model_uri,
                          deployed_id=deployed_id, deployed_uri=deployed_uri, action=action, reason=reason,
                          previous_seq=cur.seq if cur else None, set_by=set_by, set_at=now)

    def rollback(self, reason: str, set_by: str, now: datetime) -> AliasEntry:
        """The entry that points the alias back at what it pointed at before the current entry."""
        cur = self.current
        if cur is None:
            raise ValueError(f"alias {self.alias!r} was never set: nothing to roll back")
        if cur.previous_seq is None:
            raise ValueError(f"alias {self.alias!r} has no earlier model to roll back to: {cur.describe()}")
        target = self._entry(cur.previous_seq)
        return replace(target, seq=cur.seq + 1, action="rollback", reason=reason, set_by=set_by, set_at=now)
