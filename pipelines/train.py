"""Training ranks started through Spark (pyspark's TorchDistributor): on the driver for a local master, else one
barrier task per rank on the executors, with a GPU each when the executors offer GPUs to tasks. The rank itself
is ``sora_model.train.ranks``; this module only decides where ranks run and with what."""

from __future__ import annotations

import logging
from typing import Any

from pyspark.sql import SparkSession

from sora_model import config as config_lib
from sora_model.train.loop import TrainConfig

logger = logging.getLogger(__name__)


def ranks_on_executors(spark: SparkSession) -> bool:
    """Whether TorchDistributor starts ranks in barrier tasks (a cluster) rather than on the driver (local)."""
    return not spark.sparkContext.master.startswith("local")


def ranks_use_gpus(spark: SparkSession) -> bool:
    """Whether ranks get a GPU each, decided from what the ranks' hosts offer Spark, not from the driver's
    hardware: on a cluster, tasks are given GPUs (``spark.task.resource.gpu.amount`` >= 1, the executors'
    discovery script finds them); locally, the driver has GPUs as a resource. A CPU-only driver of a GPU
    cluster still asks for GPUs, and a driver with a GPU on a CPU cluster does not."""
    if ranks_on_executors(spark):
        return float(spark.conf.get("spark.task.resource.gpu.amount", "0") or 0) >= 1
    return "gpu" in spark.sparkContext.resources


def train_on_spark(spark: SparkSession, cfg: TrainConfig, num_processes: int, log_level: str = "INFO") -> dict[str, Any]:
    """Train ``cfg`` with ``num_processes`` DDP ranks started by TorchDistributor; rank 0's results (run id, last
    epoch's record, temporal ablation)."""
    from pyspark.ml.torch.distributor import TorchDistributor

    from sora_model.train.ranks import spark_rank

    remote, gpus = ranks_on_executors(spark), ranks_use_gpus(spark)
    logger.info("training %d ranks %s%s", num_processes, "in barrier tasks on the executors" if remote
                else "on the driver", " with a GPU each" if gpus else " on CPUs")
    return TorchDistributor(num_processes=num_processes, local_mode=not remote, use_gpu=gpus).run(
        spark_rank, config_lib.to_dict(cfg), log_level)
