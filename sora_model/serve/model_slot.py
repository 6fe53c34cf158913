"""The model the service serves, and the swap when its alias moves.

A request takes the slot's current ``Served`` once, when it starts, and uses it to the end: a swap loads the new
variant beside the old one and then replaces one reference, so no request ever sees a half-loaded model, and
the old one is freed when its last request ends. Reads the lake with delta-rs: the service starts no JVM.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sora_model.deploy.resolve import ModelRef, locate_model
from sora_model.deploy.variants import Predictor, load_predictor
from sora_model.lake import storage
from sora_model.lake.card import ModelCard

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served:
    target: ModelRef
    """The variant directory and the alias entry that named it, if one did."""
    predictor: Predictor

    @property
    def card(self) -> ModelCard:
        return self.predictor.card


def load(target: ModelRef, threads: int) -> Served:
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
        target = locate_model(self.lake_uri, self.model)
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
