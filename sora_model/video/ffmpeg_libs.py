"""FFmpeg's shared libraries for torchcodec (``decode.backend: torchcodec``) from PyAV's wheel, for machines
without FFmpeg 4-8 installed (no root, or a slim executor image).

torchcodec loads ``libavcodec.so.<major>`` and its siblings by their standard names. PyAV's wheel (pinned in
requirements.txt, so on every executor already) ships FFmpeg 8 under renamed files (``av.libs/libavcodec-<hash>
.so.62...``). This links them under the standard names in one directory; put it on ``LD_LIBRARY_PATH`` of the
processes that decode before they start (the dynamic loader reads it once, at start), e.g.::

    python -m sora_model.video.ffmpeg_libs /opt/sora/ffmpeg     # prints the directory
    export LD_LIBRARY_PATH=/opt/sora/ffmpeg                    # driver
    --conf spark.executorEnv.LD_LIBRARY_PATH=/opt/sora/ffmpeg  # executors (after the same command on each)

Only FFmpeg's own libraries get standard names; the rest keep their renamed files, which FFmpeg's find beside
themselves, so nothing else on the system is shadowed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

FFMPEG_LIBRARIES = ("avutil", "avcodec", "avformat", "avdevice", "avfilter", "swscale", "swresample")
_RENAMED = re.compile(r"^lib(?P<name>[a-z0-9_]+)-[0-9a-f]{8}\.so\.(?P<major>\d+)(\.\d+)*$")


def pyav_libs_dir() -> Path:
    """Where the installed PyAV wheel keeps its libraries."""
    import av

    libs = Path(av.__file__).resolve().parent.parent / "av.libs"
    if not libs.is_dir():
        raise FileNotFoundError(f"PyAV at {Path(av.__file__).parent} has no av.libs directory: it was not installed "
                                f"from a manylinux wheel (pip install --force-reinstall av from PyPI), or install "
                                f"FFmpeg's shared libraries from the system instead")
    return libs


def link_pyav_ffmpeg(dest: Path | str) -> Path:
    """Link PyAV's FFmpeg into ``dest`` (created; rerunning replaces the links): every file under its own name,
    and FFmpeg's libraries also under the names torchcodec asks for. Returns ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    found = set()
    for lib in sorted(pyav_libs_dir().iterdir()):
        names = [lib.name]
        m = _RENAMED.match(lib.name)
        if m and m["name"] in FFMPEG_LIBRARIES:
            names.append(f"lib{m['name']}.so.{m['major']}")
            found.add(m["name"])
        for name in names:
            link = dest / name
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(lib)
    missing = sorted(set(FFMPEG_LIBRARIES) - found)
    if missing:
        raise FileNotFoundError(f"PyAV's libraries in {pyav_libs_dir()} lack {missing}: this PyAV build cannot "
                                f"serve torchcodec; install FFmpeg's shared libraries from the system instead")
    return dest


def loader_env(dest: Path | str, env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with ``dest`` first on ``LD_LIBRARY_PATH``, for a process to start."""
    env = dict(os.environ if env is None else env)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(dest), env.get("LD_LIBRARY_PATH", "")) if p)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Link PyAV's FFmpeg libraries under the names torchcodec loads; "
                                                 "prints the directory to put on LD_LIBRARY_PATH.")
    parser.add_argument("dest", help="directory to create the links in (on every machine that decodes)")
    args = parser.parse_args(argv)
    print(link_pyav_ffmpeg(args.dest).resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
