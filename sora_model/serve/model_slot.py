"""The model the service serves, and the swap when its alias moves.

A request takes the slot's current ``Served`` once, when it starts, and uses it to the end: a swap loads the new
variant beside the old one and then replaces one reference, so no request ever sees a half-loaded model, and
the old one is freed when its last request ends. Reads the lake with delta-rs: the service starts no JVM.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sora_model.deploy.variants import Predictor, load_predictor
from sora_model.lake import delta, storage
from sora_model.lake.aliases import AliasEntry, AliasHistory, is_alias_name
from sora_model.lake.card import CARD_FILE, ModelCard, parse_model_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """What the config names right now: a variant directory and the alias entry that named it, if one did."""

    uri: str
    alias: AliasEntry | None = None


@dataclass(frozen=True)
class Served:
    target: Target
    predictor: Predictor

    @property
    def card(self) -> ModelCard:
        return self.predictor.card


def resolve(lake_uri: str, model: str) -> Target:
    """The variant ``model`` names: a variant directory, a models-table id, or an alias's current entry."""
    if storage.is_file(storage.join(model, CARD_FILE)):
        return Target(storage.normalize(model))
    if is_alias_name(model):
        rows = delta.read_rows(lake_uri, "aliases")
        entry = AliasHistory.from_rows(model, rows).current
        if entry is None:
            known = sorted({r["alias"] for r in rows})
            raise ValueError(f"alias {model!r} is not set in the lake {lake_uri} (aliases there: "
                             f"{', '.join(known) or 'none'}); set it with `python jobs/alias.py --set <model id>`")
        return Target(entry.serving_uri, entry)
    parsed = parse_model_id(model)
    if parsed is None:
        raise ValueError(f"model {model!r} is neither an alias, a variant directory (with {CARD_FILE}) nor an id "
                         "<run_id>/<epoch>/<variant>")
    run_id, epoch, variant = parsed
    import pyarrow.compute as pc

    where = (pc.field("run_id") == run_id) & (pc.field("epoch") == epoch) & (pc.field("variant") == variant)
    rows = delta.read_rows(lake_uri, "models", ["uri"], where=where)
    if not rows:
        raise ValueError(f"no model {model!r} in the lake {lake_uri}'s models table")
    return Target(rows[0]["uri"])


def load(target: Target, threads: int) -> Served:
    with storage.open_local_dir(target.uri) as local:
        return Served(target, load_predictor(local, threads=threads))


class ModelSlot:
    """The served model: loaded at start (``refresh``), then checked again every ``poll_s`` by a thread."""

    def __init__(self, lake_uri: str, model: str, threads: int) -> None:
        self.lake_uri, self.model, self.threads = lake_uri, model, threads
        self._served: Served | None = None
        self.swaps = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def served(self) -> Served | None:
        return self._served

    def refresh(self) -> bool:
        """Load what the config names now if it is not what is served; True when it swapped."""
        target = resolve(self.lake_uri, self.model)
        current = self._served
        if current is not None and current.target.uri == target.uri:
            if target.alias != current.target.alias:  # a new entry pointing at the same variant
                self._served = Served(target, current.predictor)
            return False
        fresh = load(target, self.threads)
        self._served = fresh  # one reference replaced: a request holds the Served it started with
        if current is not None:
            self.swaps += 1
            logger.info("now serving %s (was %s)", fresh.card.model_id, current.card.model_id)
        return current is not None

    def watch(self, poll_s: float) -> None:
        """Check the alias every ``poll_s`` in a daemon thread until ``close``; a failed check keeps the model
        served and is logged (the lake may be briefly unreachable)."""
        def run() -> None:
            while not self._stop.wait(poll_s):
                try:
                    self.refresh()
                    self.last_error = None
                except Exception as e:  # keep serving what is loaded
                    if str(e) != self.last_error:
                        logger.warning("could not check model %s: %s", self.model, e)
                    self.last_error = str(e)

        self._thread = threading.Thread(target=run, name="sora-serve-alias", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
