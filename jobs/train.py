"""torchrun --nproc_per_node N jobs/train.py --conf-file conf/train/local.yaml [key=value ...]
(or: spark-submit jobs/train.py --launcher spark --num-processes N --conf-file ... [key=value ...])

Trains the Sora model on a curated dataset with PyTorch DDP (gloo on CPU, nccl on CUDA), writes a checkpoint per
epoch to <lake>/models/<run_id>/ and registers the checkpoints in the lake's models Delta table.
"""

from __future__ import annotations

import logging
import sys

from jobs.cli import parse, parser_for, run_main, spark_session
from sora_model import config as config_lib
from sora_model.lake.layout import LakeLayout

logger = logging.getLogger("jobs.train")


def _ablation_line(val: dict, shuffled: dict) -> str:
    line = (f"temporal ablation (validation frames shuffled in time): accuracy {shuffled['accuracy']:.3f} "
            f"(in order {val['accuracy']:.3f})")
    if "direction_accuracy" in shuffled:
        line += (f"; motion axis right {shuffled['axis_accuracy']:.3f} (in order {val['axis_accuracy']:.3f}), "
                 f"direction right {shuffled['direction_accuracy']:.3f} (in order {val['direction_accuracy']:.3f}, "
                 "chance 0.5)")
    return line


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
            from sora_model.train.ranks import train_ranks

            result = train_ranks(cfg)
            if result is not None:
                report(result)
                if not args.no_register:
                    register(cfg, result["run_id"])
            return 0
        from pipelines.train import train_on_spark
        from sora_model.dataset.catalog import load_dataset
        from sora_model.train.model_spec import import_class

        # Here, before any executor starts a rank: a dataset that is not there, or a model class that does not
        # import, fails in one line, not on every rank.
        load_dataset(cfg.lake_uri, cfg.dataset, cfg.dataset_version)
        if not cfg.model_spec.builtin:
            import_class(cfg.model_spec.class_path)
        try:
            spark = spark_session("sora_model-train")
        except RuntimeError as e:  # Delta's jars missing, or executors without the project: the message says the fix
            logger.error("%s", e)
            return 2
        result = train_on_spark(spark, cfg, args.num_processes, args.log_level)
        report(result)
        if not args.no_register:
            register(cfg, result["run_id"], spark)
        return 0
    except (ValueError, ShardError) as e:
        logger.error("%s", e)
        return 2


if __name__ == "__main__":
    sys.exit(run_main(main))
