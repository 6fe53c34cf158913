"""python -m jobs.synth --out DIR --videos N --seed S

Writes the synthetic demo corpus: h264 mp4 files whose six classes differ only in motion, labels.csv,
manifest.json and a handful of deliberately bad files. The same seed writes the same bytes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from jobs.cli import setup_logging
from sora_model.video.synth import write_corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.synth", description=__doc__.strip().splitlines()[2])
    parser.add_argument("--out", required=True, help="output folder (created; existing files are overwritten)")
    parser.add_argument("--videos", type=int, default=96, help="number of good videos (default 96)")
    parser.add_argument("--seed", type=int, default=0, help="seed; same seed, same bytes (default 0)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes rendering in parallel (default: all cores)")
    parser.add_argument("--no-bad-files", action="store_true", help="write only good videos")
    args = parser.parse_args(argv)
    setup_logging("INFO")
    if args.videos < 1:
        parser.error("--videos must be >= 1")
    start = time.perf_counter()
    manifest = write_corpus(args.out, args.videos, args.seed, workers=args.workers, bad_files=not args.no_bad_files)
    print(f"wrote {len(manifest['videos'])} videos + {len(manifest['bad_files'])} bad files to {args.out} "
          f"in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
