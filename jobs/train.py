"""torchrun --nproc_per_node N jobs/train.py --conf-file conf/train/local.yaml [key=value ...]

Trains the Sora model on a curated dataset with PyTorch DDP (gloo on CPU, nccl on CUDA), writes a checkpoint per
epoch to <lake>/models/<run_id>/ and registers the checkpoints in the lake's models Delta table.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

from jobs.cli import parse, parser_for
from sora_model import config as config_lib
from sora_model import storage

logger = logging.getLogger("jobs.train")


def _run_id(cfg, rank: int, world_size: int) -> str:  # noqa: ANN001
    import torch.distributed as dist

    if cfg.run_id:
        return cfg.run_id
    run_id = ""
    if rank == 0:
        runs = Path(storage.normalize(cfg.lake_uri)) / "models"
        existing = sorted(p.name for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
        if cfg.resume and existing:
            run_id = existing[-1]
        else:
            run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    if world_size > 1:
        box = [run_id]
        dist.broadcast_object_list(box, src=0)
        run_id = box[0]
    return run_id


def train_main(cfg, register: bool) -> int:  # noqa: ANN001
    """Body of one rank; torchrun and TorchDistributor both end up here."""
    import torch
    import torch.distributed as dist

    from sora_model.train import Trainer

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
            storage.write_text(str(trainer.run_dir / "config.yaml"), config_lib.to_yaml(cfg))
            logger.info("run %s: %d ranks on %s, %d steps/epoch, dataset %s v%d", run_id, world_size, device,
                        trainer.steps_per_epoch, trainer.dataset.name, trainer.dataset.version)
        history = trainer.fit()
    finally:
        if world_size > 1:
            dist.destroy_process_group()
    if rank == 0:
        last = history[-1] if history else None
        if last:
            val = last["val"]
            print(f"run {run_id}: epoch {last['epoch']} val accuracy {val['accuracy']:.3f} macro precision "
                  f"{val['macro_precision']:.3f} recall {val['macro_recall']:.3f} F1 {val['macro_f1']:.3f} "
                  f"on {val['samples']} clips")
            print("confusion matrix (rows true, columns predicted):")
            for row in val["confusion_matrix"]:
                print("  " + " ".join(f"{v:4d}" for v in row))
        if register:
            from pipelines.models import register_checkpoints
            from pipelines.session import SparkConfig, build_session

            spark = build_session(SparkConfig(master=os.environ.get("SORA_SPARK_MASTER", "local[2]"),
                                              conf={"spark.ui.enabled": "false"}))
            n = register_checkpoints(spark, cfg.lake_uri, run_id, config_lib.to_yaml(cfg))
            print(f"registered {n} checkpoints of run {run_id} in {cfg.lake_uri}/tables/models")
    return 0


def main(argv: list[str] | None = None) -> int:
    from sora_model.train import TrainConfig

    parser = parser_for(TrainConfig, __doc__.strip().splitlines()[2], "jobs/train.py")
    parser.add_argument("--no-register", action="store_true",
                        help="do not write the models Delta table (needs Java/Spark on rank 0's machine)")
    args, cfg = parse(parser, TrainConfig, argv)
    if cfg is None:
        return 0
    from sora_model.data import ShardError

    try:
        return train_main(cfg, register=not args.no_register)
    except (ValueError, ShardError) as e:
        logger.error("%s", e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
