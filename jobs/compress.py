"""python jobs/compress.py --conf-file conf/compress/local.yaml [run_id=<id>] [key=value ...]

Builds the compressed variants of a training checkpoint (default: the best validation epoch of the newest run):
onnx, int8-dynamic, int8-static, pruned-<s>, pruned-channels-<s>, distilled. Evaluates each and the fp32
checkpoint on the same split, prints one comparison table and the ratios to fp32, saves comparison.json and
comparison.png next to the variants in <lake>/models/<run_id>/, and registers the variants in the models table.
"""

from __future__ import annotations

import logging
import sys

from jobs.cli import expand_shorthands, parse, parser_for, run_main
from sora_model import config as config_lib
from sora_model.lake.layout import LakeLayout

logger = logging.getLogger("jobs.compress")


def main(argv: list[str] | None = None) -> int:
    from sora_model.deploy.compress import CompressConfig

    parser = parser_for(CompressConfig, __doc__.strip().split("\n\n")[1].replace("\n", " "), "jobs/compress.py")
    parser.add_argument("--no-register", action="store_true",
                        help="do not write the models Delta table")
    parser.add_argument("--run-id", help="same as run_id=...: the training run to compress")
    parser.add_argument("--epoch", help="same as epoch=...: the checkpoint epoch (default: best validation)")
    argv = expand_shorthands(list(sys.argv[1:] if argv is None else argv), {"--run-id": "run_id", "--epoch": "epoch"})
    args, cfg = parse(parser, CompressConfig, argv)
    if cfg is None:
        return 0
    from sora_model.deploy.build import run_compress
    from sora_model.deploy.comparison import write_comparison

    try:
        run, rows = run_compress(cfg)
    except ValueError as e:
        logger.error("%s", e)
        return 2
    print(write_comparison(run, rows, cfg))
    if not args.no_register:
        from pipelines.models import register_variants

        n = register_variants(None, cfg.lake_uri, run.card, rows, config_lib.to_yaml(cfg))  # delta-rs: no JVM
        print(f"registered {n} variants of {run.card.run_id} epoch {run.card.epoch} in "
              f"{LakeLayout.of(cfg.lake_uri).table('models')}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
