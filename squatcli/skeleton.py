"""The one source of truth: joint order, bones, classes and the shape constants.

Joint order is the paper's dataset order (HMR "LSP + face", Ogata et al. 2019). Coordinates everywhere in
squatcli are metres in a y-up frame (x, y, z) with no fixed origin; features only use distances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FPS = 30  # frames per second of the dataset and of every feature sequence
WINDOW = 300  # frames the classifiers read (10 s at 30 fps)
N_JOINTS = 19
N_FEATURES = N_JOINTS * (N_JOINTS - 1) // 2  # 171 pairwise distances
# The pose model runs about this many times a second (`auto_stride`): on every frame of a 30 fps video. Skipping
# frames was 2.7x faster at stride 3 with a 1.3 cm median difference on a slow squat (bench/bench_extract.py), but
# a fast rep loses its bottom: the 0.6 s rep of the shared side-view video read 56 degrees of trunk lean at every
# frame, 42 at every 2nd and 31 at every 3rd (MediaPipe's tracker follows fast motion badly across skipped frames).
POSE_RATE = 30.0
DEFAULT_STRIDE = None  # pose.PoseSchedule.adaptive: `auto_stride` while a rep moves, sparser while held or standing


def auto_stride(fps: float) -> int:
    """Run the pose model on every k-th frame so that it sees about POSE_RATE frames a second (1 up to 45 fps)."""
    return max(1, int(round(fps / POSE_RATE)))
MIN_SECONDS = 0.5  # shorter clips hold less than a rep (the fastest real single-rep clips seen: 0.90 s): refused below this
# Longer clips are refused (an hour of joints at 30 fps is 108,000 frames, ~50 MB): bounds memory and time.
MAX_SECONDS = 3600.0
# The frame rates a joints clip may declare, and a video's container may (outside it, FPS is assumed).
MIN_FPS, MAX_FPS = 1.0, 1000.0
# The head top is not a BlazePose landmark: the ear midpoint pushed on along neck -> ears by this fraction of the
# neck-to-ears distance (the vertex sits ~12 cm above the ears). pose.py builds it so; synth.py imitates it.
HEAD_TOP_EXTENSION = 0.5

JOINTS: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle",
    "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
    "neck", "head_top", "nose", "l_eye", "r_eye", "l_ear", "r_ear",
)  # fmt: skip
J = {name: i for i, name in enumerate(JOINTS)}

# Segments drawn as the stick figure and checked for length stability.
BONES: tuple[tuple[str, str], ...] = (
    ("r_ankle", "r_knee"), ("r_knee", "r_hip"), ("l_ankle", "l_knee"), ("l_knee", "l_hip"),
    ("r_hip", "l_hip"), ("r_shoulder", "l_shoulder"), ("r_hip", "r_shoulder"), ("l_hip", "l_shoulder"),
    ("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"), ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"),
    ("neck", "head_top"), ("neck", "nose"), ("nose", "l_eye"), ("nose", "r_eye"),
    ("l_eye", "l_ear"), ("r_eye", "r_ear"),
)  # fmt: skip

# The four limb segments whose stability `squat extract` reports (name -> joints on both sides).
LIMB_SEGMENTS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "shank": (("r_ankle", "r_knee"), ("l_ankle", "l_knee")),
    "thigh": (("r_knee", "r_hip"), ("l_knee", "l_hip")),
    "upper arm": (("r_shoulder", "r_elbow"), ("l_shoulder", "l_elbow")),
    "forearm": (("r_elbow", "r_wrist"), ("l_elbow", "l_wrist")),
}

# Foot points (MediaPipe landmarks 29-32; the real reps of datasets.read_real_reps have them too), carried beside
# the 19 joints as an optional (T, 4, 3) array: heels and the tips of the feet ("foot index").
FEET: tuple[str, ...] = ("l_heel", "r_heel", "l_toe", "r_toe")
N_FEET = len(FEET)
F = {name: i for i, name in enumerate(FEET)}

# Rigid segments whose median length sets a clip's body scale (see features.normalise).
SCALE_BONES: tuple[tuple[str, str], ...] = (
    ("r_ankle", "r_knee"), ("l_ankle", "l_knee"), ("r_knee", "r_hip"), ("l_knee", "l_hip"),
    ("r_shoulder", "r_elbow"), ("l_shoulder", "l_elbow"), ("r_elbow", "r_wrist"), ("l_elbow", "l_wrist"),
    ("r_hip", "l_hip"), ("r_shoulder", "l_shoulder"), ("r_hip", "r_shoulder"), ("l_hip", "l_shoulder"),
)  # fmt: skip


@dataclass(frozen=True)
class SquatClass:
    """A form class: its key, its dataset folder name (the paper's for its seven), a display name and a cue."""

    key: str
    folder: str
    name: str
    cue: str


# The paper's seven classes, in its output order: what a model trained on the paper's dataset predicts, and what
# the synthetic corpus generates.
CLASSES: tuple[SquatClass, ...] = (
    SquatClass("good", "good", "Good form", "Keep it up: depth, spine and knees look right."),
    SquatClass("knees_in", "bad_innner_thigh", "Knees caving in", "Push your knees out so they track over your toes."),
    SquatClass("back_round", "bad_back_round", "Rounded back", "Keep your chest up and your spine neutral."),
    SquatClass("back_arch", "bad_back_warp", "Arched back", "Brace your core; don't throw your chest up and back."),
    SquatClass("head_up", "bad_head", "Head tilted up", "Keep your gaze neutral, a few metres ahead on the floor."),
    SquatClass("shallow", "bad_shallow", "Too shallow", "Sit deeper: hips down to knee level or below."),
    SquatClass("knees_forward", "bad_toe", "Knees too far forward", "Sit back into your hips; keep your heels down."),
)  # fmt: skip
N_CLASSES = len(CLASSES)
CLASS_KEYS: tuple[str, ...] = tuple(c.key for c in CLASSES)
CLASS_FOLDERS: tuple[str, ...] = tuple(c.folder for c in CLASSES)
GOOD = 0  # index of the "good" class

# Faults beyond the paper's six that real labelled squats show (Chariar et al. 2023, see datasets.read_real_reps).
# Toes lifting can only be seen with foot points (FEET_CLASSES).
# A model names the classes it predicts in its metadata: the paper's seven, or those plus some of these. Their
# folder names are squatcli's own (a synthetic or user dataset in the paper's layout may use them).
EXTRA_CLASSES: tuple[SquatClass, ...] = (
    SquatClass("forward_lean", "bad_forward_lean", "Leaning too far forward",
               "Keep your chest up and sit down between your heels instead of folding forward."),
    SquatClass("toes_up", "bad_toes_up", "Toes lifting", "Keep the whole foot down; don't rock back onto your heels."),
)  # fmt: skip
ALL_CLASSES: tuple[SquatClass, ...] = CLASSES + EXTRA_CLASSES
FEET_CLASSES: tuple[str, ...] = ("toes_up",)
ALL_CLASS_KEYS: tuple[str, ...] = tuple(c.key for c in ALL_CLASSES)

# The classifiers squatcli builds, trains and ships (models.py): a residual 1D CNN and a bidirectional LSTM.
MODEL_KINDS: tuple[str, ...] = ("cnn", "lstm")


def class_index(name: str, classes: tuple[SquatClass, ...] = CLASSES) -> int:
    """Index in `classes` (the paper's seven by default) of a class given its key, folder or display name
    (case-insensitive)."""
    wanted = name.strip().lower()
    for i, c in enumerate(classes):
        if wanted in (c.key, c.folder, c.name.lower()):
            return i
    raise KeyError(f"unknown class {name!r}; expected one of {', '.join(c.key for c in classes)}")


def squat_class(key: str) -> SquatClass:
    """The class (of ALL_CLASSES) with this key."""
    return ALL_CLASSES[class_index(key, ALL_CLASSES)]


# Pairs (i, j), i < j, in numpy.triu_indices(19, 1) order: feature k is the distance between PAIRS[k].
PAIR_I, PAIR_J = np.triu_indices(N_JOINTS, 1)


def pair_index(a: str, b: str) -> int:
    """Feature column holding the distance between joints a and b."""
    i, j = sorted((J[a], J[b]))
    return int(np.flatnonzero((PAIR_I == i) & (PAIR_J == j))[0])
