"""Real footage for tests and benchmarks: the sample videos that Debian packages ship, fetched from the Debian
mirror by pinned version and sha256 (nothing else is downloaded), cached on this machine.

Four cameras and codecs: a street scene (kivy's ``cityCC0.mpg``, MPEG-2 PS, 720x405, 25 fps), OpenCV's
``Megamind.avi`` (MPEG-4 part 2 in AVI, 720x528, 23.976 fps, an animated film trailer with its own cuts),
``tree.avi`` (Cinepak, 320x240, 15 fps, a hand-held camera) and ``vtest.avi`` (MS-MPEG-4 v3, 768x576, 10 fps,
a fixed camera over a square with walking people).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Package:
    pool_path: str
    sha256: str
    members: dict[str, str]
    """file name here -> path inside the package's data archive."""


PACKAGES = (
    _Package("pool/main/k/kivy/python-kivy-examples_2.1.0-1_all.deb",
             "ad619d8291a888b59e6f1942db52ad7f3c03373c195d6fc449fbf01721b4f4a1",
             {"city.mpg": "./usr/share/kivy-examples/widgets/cityCC0.mpg"}),
    _Package("pool/main/o/opencv/opencv-doc_4.6.0+dfsg-12_all.deb",
             "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a",
             {"megamind.avi": "./usr/share/doc/opencv-doc/examples/data/Megamind.avi",
              "tree.avi": "./usr/share/doc/opencv-doc/examples/data/tree.avi",
              "vtest.avi": "./usr/share/doc/opencv-doc/examples/data/vtest.avi"}),
)
NAMES: tuple[str, ...] = tuple(name for p in PACKAGES for name in p.members)


def default_cache() -> Path:
    return Path(os.environ.get("SORA_FOOTAGE_DIR", Path.home() / ".cache" / "sora_model" / "footage"))


def mirror() -> str:
    """The Debian mirror apt uses here (``SORA_DEBIAN_MIRROR`` overrides), else deb.debian.org."""
    if os.environ.get("SORA_DEBIAN_MIRROR"):
        return os.environ["SORA_DEBIAN_MIRROR"].rstrip("/")
    for path in sorted(Path("/etc/apt").glob("sources.list.d/*.sources")) + [Path("/etc/apt/sources.list")]:
        try:
            text = path.read_text()
        except OSError:
            continue
        m = re.search(r"^URIs:\s*(\S+/debian)\s*$", text, re.M) or re.search(r"^deb\s+(\S+/debian)\s", text, re.M)
        if m:
            return m.group(1).rstrip("/")
    return "http://deb.debian.org/debian"


def _data_tar(deb: bytes) -> tarfile.TarFile:
    # A .deb is an ar archive: "!<arch>\n", then 60-byte headers each followed by the member (2-byte aligned).
    if not deb.startswith(b"!<arch>\n"):
        raise ValueError("not a Debian package (no ar header)")
    pos = 8
    while pos + 60 <= len(deb):
        name = deb[pos:pos + 16].decode().strip().rstrip("/")
        size = int(deb[pos + 48:pos + 58].decode().strip())
        body = deb[pos + 60:pos + 60 + size]
        if name.startswith("data.tar"):
            return tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
        pos += 60 + size + (size & 1)
    raise ValueError("Debian package without data.tar")


def real_footage(cache: Path | None = None) -> dict[str, Path]:
    """name -> local path of every file in ``NAMES``, downloading and unpacking what the cache lacks."""
    cache = cache or default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for package in PACKAGES:
        wanted = {name: cache / name for name in package.members}
        if not all(p.is_file() for p in wanted.values()):
            url = f"{mirror()}/{package.pool_path}"
            logger.info("fetching sample videos from %s", url)
            with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - a pinned https/http mirror
                deb = response.read()
            digest = hashlib.sha256(deb).hexdigest()
            if digest != package.sha256:
                raise RuntimeError(f"{url} has sha256 {digest}, expected {package.sha256}: a changed mirror or a "
                                   f"broken download; retry, or set SORA_DEBIAN_MIRROR to another mirror")
            with _data_tar(deb) as tar:
                for name, member in package.members.items():
                    src = tar.extractfile(member)
                    if src is None:
                        raise RuntimeError(f"{member} is not a file in {url}")
                    tmp = wanted[name].with_suffix(".part")
                    tmp.write_bytes(src.read())
                    tmp.replace(wanted[name])
        out.update(wanted)
    return out
