"""python -m jobs.upload SRC DEST [--dry-run]

Copies a local corpus folder (videos and their labels.csv) to a folder or object-store prefix, keeping relative
paths, so curate and the cycle can read it there. Files already at DEST with the same size and a newer copy time
are skipped, so adding videos (and their rows to labels.csv) and running the same line again uploads only what is
new or changed. The store is the one object_store settings name: AWS_ENDPOINT_URL / AWS_REGION in the
environment (credentials only there too), or --endpoint-url.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from sora_model.lake import object_store, storage
from sora_model.logs import setup_logging

logger = logging.getLogger("jobs.upload")


def plan(src: str, dest: str) -> tuple[list[tuple[str, str, int]], int]:
    """(local file, destination URI, bytes) of every file under ``src`` that ``dest`` lacks or holds in another
    size or an older copy; and how many are skipped as already there."""
    import pyarrow.fs as pafs

    fs, root = storage.filesystem(dest)
    there = {info.path[len(root.rstrip("/")) + 1:]: info for info in fs.get_file_info(
        pafs.FileSelector(root, recursive=True, allow_not_found=True)) if info.type == pafs.FileType.File}
    todo, skipped = [], 0
    for folder, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, src).replace(os.sep, "/")
            st = os.stat(path)
            have = there.get(rel)
            if have is not None and have.size == st.st_size and have.mtime_ns is not None \
                    and have.mtime_ns >= st.st_mtime_ns:
                skipped += 1
                continue
            todo.append((path, storage.join(dest, rel), st.st_size))
    return todo, skipped


def main(argv: list[str] | None = None) -> int:
    doc = __doc__.strip().split("\n\n")
    parser = argparse.ArgumentParser(prog="python -m jobs.upload", description=doc[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", help="local folder to copy (every file under it, relative paths kept)")
    parser.add_argument("dest", help="destination folder or object-store prefix, e.g. s3a://bucket/raw/videos")
    parser.add_argument("--endpoint-url", help="S3-compatible endpoint (default: AWS_ENDPOINT_URL, else AWS)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be copied, copy nothing")
    args = parser.parse_args(argv)
    setup_logging("INFO")
    if not os.path.isdir(args.src):
        logger.error("%s is not a folder", args.src)
        return 2
    try:
        object_store.apply(object_store.ObjectStoreConfig(endpoint_url=args.endpoint_url))
    except ValueError as e:
        logger.error("%s", e)
        return 2
    start = time.perf_counter()
    todo, skipped = plan(args.src, args.dest)
    total = sum(n for *_, n in todo)
    for i, (path, uri, _) in enumerate(todo, 1):
        if args.dry_run:
            print(f"would copy {path} -> {uri}")
            continue
        storage.upload(path, uri)
        if i % 50 == 0 or i == len(todo):
            logger.info("copied %d of %d files", i, len(todo))
    verb = "would copy" if args.dry_run else "copied"
    print(f"{verb} {len(todo)} files ({total / 1e6:.1f} MB) to {args.dest}, {skipped} already there, "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
