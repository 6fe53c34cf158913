"""torchrun --nproc_per_node N jobs/train.py --conf-file conf/train/local.yaml [key=value ...]
(or: spark-submit jobs/train.py --launcher spark --num-processes N --conf-file ... [key=value ...])

Trains the Sora model on a curated dataset with PyTorch DDP (gloo on CPU, nccl on CUDA), writes a checkpoint per
epoch to <lake>/models/<run_id>/ and registers the checkpoints in the lake's models Delta table.
"""

from __future__ import annotations

import logging
import os
import sys

from jobs.cli import parse, parser_for, setup_logging, spark_session
from sora_model import config as config_lib
from sora_model.lake import storage
from sora_model.lake.ids import new_run_id
from sora_model.lake.layout import LakeLayout

logger = logging.getLogger("jobs.train")


def _run_id(cfg, rank: int, world_size: int) -> str:  # noqa: ANN001
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


def _ablation_line(val: dict, shuffled: dict) -> str:
    line = (f"temporal ablation (validation frames shuffled in time): accuracy {shuffled['accuracy']:.3f} "
            f"(in order {val['accuracy']:.3f})")
    if "direction_accuracy" in shuffled:
        line += (f"; motion axis right {shuffled['axis_accuracy']:.3f} (in order {val['axis_accuracy']:.3f}), "
                 f"direction right {shuffled['direction_accuracy']:.3f} (in order {val['direction_accuracy']:.3f}, "
                 "chance 0.5)")
    return line


def train_ranks(cfg, every_rank: bool = False) -> dict | None:  # noqa: ANN001
    """Body of one rank (torchrun or TorchDistributor sets RANK/WORLD_SIZE); rank 0 returns the run's results,
    and with ``every_rank`` every rank returns rank 0's."""
    import torch
    import torch.distributed as dist

    from sora_model.train.loop import Trainer

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


def _spark_rank(cfg_tree: dict, log_level: str) -> dict | None:
    """What TorchDistributor runs in each process: the config travels as a plain dict."""
    from sora_model.train.loop import TrainConfig

    setup_logging(log_level)
    # In local mode TorchDistributor keeps the return value of whichever rank writes it last, not rank 0's: a
    # rank that returned None after rank 0 failed the run (seen under load).
    return train_ranks(config_lib.build(TrainConfig, cfg_tree), every_rank=True)


def report(result: dict) -> None:
    last, run_id = result["last"], result["run_id"]
    if not last:
        print(f"run {run_id}: nothing left to train (all epochs were done)")
        return
    val = last["val"]
    print(f"run {run_id}: epoch {last['epoch']} val accuracy {val['accuracy']:.3f} macro precision "
          f"{val['macro_precision']:.3f} recall {val['macro_recall']:.3f} F1 {val['macro_f1']:.3f} "
          f"on {val['samples']} clips")
    print("confusion matrix (rows true, columns predicted):")
    for row in val["confusion_matrix"]:
        print("  " + " ".join(f"{v:4d}" for v in row))
    print(_ablation_line(val, result["ablation"]))


def register(cfg, run_id: str, spark=None) -> None:  # noqa: ANN001
    from pipelines.models import register_checkpoints

    n = register_checkpoints(spark, cfg.lake_uri, run_id, config_lib.to_yaml(cfg))  # delta-rs: no JVM needed
    print(f"registered {n} checkpoints of run {run_id} in {LakeLayout.of(cfg.lake_uri).table('models')}")


def main(argv: list[str] | None = None) -> int:
    from sora_model.train.loop import TrainConfig

    parser = parser_for(TrainConfig, __doc__.strip().split("\n\n")[1].replace("\n", " "), "jobs/train.py")
    parser.add_argument("--no-register", action="store_true",
                        help="do not write the models Delta table")
    parser.add_argument("--launcher", choices=("torchrun", "spark"), default="torchrun",
                        help="torchrun: this process is one rank, started by torchrun (default). spark: start "
                             "--num-processes ranks with pyspark's TorchDistributor, on the driver for a local "
                             "master, else in barrier tasks on the executors (one GPU each when CUDA is present)")
    parser.add_argument("--num-processes", type=int, default=2,
                        help="ranks to start with --launcher spark (default 2)")
    args, cfg = parse(parser, TrainConfig, argv)
    if cfg is None:
        return 0
    if args.num_processes < 1:
        parser.error("--num-processes must be >= 1")
    from sora_model.dataset.reader import ShardError

    try:
        if args.launcher == "torchrun":
            result = train_ranks(cfg)
            if result is not None:
                report(result)
                if not args.no_register:
                    register(cfg, result["run_id"])
            return 0
        import torch
        from pyspark.ml.torch.distributor import TorchDistributor

        from sora_model.dataset.catalog import load_dataset

        # Here, before any executor starts a rank: a dataset that is not there fails in one line, not on every rank.
        load_dataset(cfg.lake_uri, cfg.dataset, cfg.dataset_version)
        try:
            spark = spark_session("sora_model-train")
        except RuntimeError as e:  # Delta's jars missing, or executors without the project: the message says the fix
            logger.error("%s", e)
            return 2
        local = spark.sparkContext.master.startswith("local")
        result = TorchDistributor(num_processes=args.num_processes, local_mode=local,
                                  use_gpu=torch.cuda.is_available()).run(
            _spark_rank, config_lib.to_dict(cfg), args.log_level)
        report(result)
        if not args.no_register:
            register(cfg, result["run_id"], spark)
        return 0
    except (ValueError, ShardError) as e:
        logger.error("%s", e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
