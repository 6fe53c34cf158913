"""python -m jobs.spark_setup [--verbose] [--print-package] [--jars-dir FOLDER] [--executor-python PATH]

Resolves Delta's jars from Maven Central once (into ~/.cache/sora_model/ivy) and writes them, with Delta's SQL
extension and catalog, into spark-defaults.conf of the pip-installed Spark, so a plain `spark-submit jobs/...`
finds Delta and no job prints Ivy's resolution report again. `make` runs it. With --jars-dir it also puts the jars
into FOLDER and names them there: run it on every worker of a cluster too (or copy FOLDER to the same path
there), and executors load the jars from FOLDER instead of each application copying them. With
--executor-python the executors run that interpreter and the driver keeps this one (the venv the project is
installed in), for every job submitted from here.
"""

from __future__ import annotations

import argparse
import os
import sys

from jobs.cli import setup_logging


def main(argv: list[str] | None = None) -> int:
    from pipelines.jars import delta_package, jars_on_workers
    from pipelines.session import install_spark_defaults

    parser = argparse.ArgumentParser(prog="python -m jobs.spark_setup", description=__doc__.strip().split("\n\n")[1])
    parser.add_argument("--verbose", action="store_true", help="show Ivy's resolution report and INFO logs")
    parser.add_argument("--print-package", action="store_true",
                        help="only print the Delta Maven coordinate matching the installed pyspark and delta-spark")
    parser.add_argument("--jars-dir", metavar="FOLDER",
                        help="also copy the jars into FOLDER and name them there as local: jars: FOLDER must then be "
                             "at the same path on every worker (run this there too, or copy it), whose executors "
                             "load the jars from it instead of each application copying them")
    parser.add_argument("--executor-python", metavar="PATH",
                        help="the Python executors run (spark.pyspark.python): a path every worker has, e.g. the "
                             "interpreter of the executor image, or ./env/bin/python with --archives "
                             "dist/env.tar.gz#env. The driver's Python (spark.pyspark.driver.python) is then set to "
                             "this interpreter: Spark would otherwise start the driver with the executors' one too")
    args = parser.parse_args(argv)
    if args.print_package:
        print(delta_package())
        return 0
    setup_logging("INFO", verbose=args.verbose)
    print(f"wrote {install_spark_defaults(verbose=args.verbose, jars_dir=args.jars_dir, executor_python=args.executor_python)}")
    if args.jars_dir:
        jars = jars_on_workers() or []
        size_mb = sum(os.path.getsize(j) for j in jars) / 1e6
        print(f"{len(jars)} jars ({size_mb:.0f} MB) in {args.jars_dir}: executors load them from there, so that "
              "folder must be on every worker")
    return 0


if __name__ == "__main__":
    sys.exit(main())
