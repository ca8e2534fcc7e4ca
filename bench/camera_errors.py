"""What one camera gets wrong: MediaPipe's monocular world landmarks against its image landmarks on the shared real
videos (the measurements behind camera.MonocularError and camera.view_yaw).

    .venv/bin/python bench/camera_errors.py [VIDEO ...]

For each video (default: the eight in ../shared/videos), pose on every frame, then at the deepest frame:
* trunk lean and thigh angle (from vertical) in the world landmarks;
* the same read from the picture: in the image plane (what a side view shows as it is), and from foreshortening
  (what a front view shows: a segment tilting towards the camera looks shorter than when standing, so
  acos(length / standing length) is its tilt out of the picture);
* the view: yaw from the world landmarks' hip axis, from the picture's widths (camera.picture_yaw) and both
  (camera.view_yaw).
A front view whose world trunk lean is far below the foreshortening estimate is depth the estimator shrank.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from squatcli import camera
from squatcli.features import midpoint
from squatcli.pose import extract_video
from squatcli.skeleton import J

SHARED_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "videos"


def tilt(v: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(T,) degrees between vectors (T, 3) and `up`."""
    cos = (v @ up) / np.maximum(np.linalg.norm(v, axis=-1), 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def foreshortened(v: np.ndarray, standing: np.ndarray) -> np.ndarray:
    """(T,) degrees out of the picture of a segment whose picture length is |v| against its standing length."""
    length = np.linalg.norm(v, axis=-1)
    return np.degrees(np.arccos(np.clip(length / np.median(length[standing]), 0, 1)))


def measure(path: Path) -> dict:
    ex = extract_video(path, stride=1)
    clip = ex.clip
    world = clip.joints.astype(np.float64)
    image = camera.ImageLandmarks(clip.image_xy, None, clip.aspect)
    flat = image.plane()[0]
    up_w, up_i = np.array([0.0, 1.0, 0.0]), np.array([0.0, 1.0, 0.0])
    hips_i, ankles_i = midpoint(flat, "l_hip", "r_hip"), midpoint(flat, "l_ankle", "r_ankle")
    height = (hips_i - ankles_i) @ up_i
    bottom = int(np.argmin(height))
    standing = height >= np.percentile(height, 85)
    trunk_w = world[:, J["neck"]] - midpoint(world, "l_hip", "r_hip")
    trunk_i = flat[:, J["neck"]] - hips_i
    thigh_w = midpoint(world, "l_hip", "r_hip") - midpoint(world, "l_knee", "r_knee")
    thigh_i = hips_i - midpoint(flat, "l_knee", "r_knee")
    return {
        "video": path.name, "frames": len(world), "bottom_s": bottom / clip.fps,
        "trunk_world": tilt(trunk_w, up_w)[bottom], "trunk_picture": tilt(trunk_i, up_i)[bottom],
        "trunk_foreshortened": foreshortened(trunk_i, standing)[bottom],
        "thigh_world": tilt(thigh_w, up_w)[bottom], "thigh_picture": tilt(thigh_i, up_i)[bottom],
        "thigh_foreshortened": foreshortened(thigh_i, standing)[bottom],
        "yaw_world": camera.view_yaw(world), "yaw_picture": camera.picture_yaw(world, image),
        "yaw": camera.view_yaw(world, image),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="*", type=Path)
    args = parser.parse_args()
    videos = args.videos or sorted(p for p in SHARED_VIDEOS.glob("*") if p.suffix in (".mp4", ".avi"))
    print(f"{'video':32s} {'trunk lean: world / picture / foreshortened':>44s}   {'thigh: world / picture / foreshortened':>40s}"
          f"   yaw: world / picture / both")  # fmt: skip
    for path in videos:
        r = measure(path)
        print(f"{r['video']:32s} {r['trunk_world']:14.0f} {r['trunk_picture']:9.0f} {r['trunk_foreshortened']:14.0f}     "
              f"{r['thigh_world']:14.0f} {r['thigh_picture']:9.0f} {r['thigh_foreshortened']:14.0f}      "
              f"{r['yaw_world']:5.0f} {r['yaw_picture']:8.0f} {r['yaw']:6.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
