"""The body of one training rank, however it was started: torchrun (this process is the rank) or pyspark's
TorchDistributor (a process it starts on the driver or in a barrier task on an executor). Spark-free: the rank
sees its config, RANK/WORLD_SIZE/LOCAL_RANK and the lake, nothing of the session that started it."""

from __future__ import annotations

import os
from typing import Any

from sora_model import config as config_lib
from sora_model.lake import storage
from sora_model.lake.ids import new_run_id
from sora_model.lake.layout import LakeLayout
from sora_model.logs import setup_logging
from sora_model.train.loop import TrainConfig


def _run_id(cfg: TrainConfig, rank: int, world_size: int) -> str:
    import torch.distributed as dist

    if cfg.run_id:
        return cfg.run_id
    run_id = ""
    if rank == 0:
        existing = LakeLayout.of(cfg.lake_uri).training_runs()
        run_id = existing[-1] if cfg.resume and existing else new_run_id()
    if world_size > 1:
        box = [run_id]
        dist.broadcast_object_list(box, src=0)
        run_id = box[0]
    return run_id


def train_ranks(cfg: TrainConfig, every_rank: bool = False) -> dict[str, Any] | None:
    """Train as one rank (the launcher sets RANK/WORLD_SIZE); rank 0 returns the run's results (run id, last
    epoch's record, temporal ablation), and with ``every_rank`` every rank returns rank 0's."""
    import logging

    import torch
    import torch.distributed as dist

    from sora_model.train.loop import Trainer

    logger = logging.getLogger(__name__)
    rank, world_size = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world_size > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        run_id = _run_id(cfg, rank, world_size)
        trainer = Trainer(cfg, run_id, rank=rank, world_size=world_size, device=device)
        if cfg.resume:
            trainer.resume()
        if rank == 0:
            storage.write_text(storage.join(trainer.run_dir, "config.yaml"), config_lib.to_yaml(cfg))
            logger.info("run %s: %d ranks on %s, %d steps/epoch, dataset %s v%d", run_id, world_size, device,
                        trainer.steps_per_epoch, trainer.dataset.name, trainer.dataset.version)
        history = trainer.fit()
        result = None
        if rank == 0:
            ablation = trainer.temporal_ablation() if history else None
            result = {"run_id": run_id, "last": history[-1] if history else None, "ablation": ablation}
        if every_rank and world_size > 1:
            box = [result]
            dist.broadcast_object_list(box, src=0)
            result = box[0]
    finally:
        if world_size > 1:
            dist.destroy_process_group()
    return result


def spark_rank(cfg_tree: dict[str, Any], log_level: str) -> dict[str, Any] | None:
    """What TorchDistributor runs in each process: the config travels as a plain dict."""
    setup_logging(log_level)
    # In local mode TorchDistributor keeps the return value of whichever rank writes it last, not rank 0's: a
    # rank that returned None after rank 0 failed the run (seen under load).
    return train_ranks(config_lib.build(TrainConfig, cfg_tree), every_rank=True)
