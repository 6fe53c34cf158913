"""python -m jobs.spark_setup [--verbose] [--print-package]

Resolves Delta's jars from Maven Central once (into ~/.cache/sora_model/ivy) and writes them, with Delta's SQL
extension and catalog, into spark-defaults.conf of the pip-installed Spark, so a plain `spark-submit jobs/...`
finds Delta and no job prints Ivy's resolution report again. `make` runs it.
"""

from __future__ import annotations

import argparse
import sys

from jobs.cli import setup_logging


def main(argv: list[str] | None = None) -> int:
    from pipelines.session import delta_package, install_spark_defaults

    parser = argparse.ArgumentParser(prog="python -m jobs.spark_setup", description=__doc__.strip().split("\n\n")[1])
    parser.add_argument("--verbose", action="store_true", help="show Ivy's resolution report and INFO logs")
    parser.add_argument("--print-package", action="store_true",
                        help="only print the Delta Maven coordinate matching the installed pyspark and delta-spark")
    args = parser.parse_args(argv)
    if args.print_package:
        print(delta_package())
        return 0
    setup_logging("INFO", verbose=args.verbose)
    print(f"wrote {install_spark_defaults(verbose=args.verbose)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
