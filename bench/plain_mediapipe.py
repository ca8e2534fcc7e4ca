"""The yardstick of bench_assess.py: a plain MediaPipe pass over a video, as anyone would write it. mediapipe is
imported normally (it imports TensorFlow when that is installed), and BlazePose (full model, video mode) runs on
every frame.

    .venv/bin/python bench/plain_mediapipe.py VIDEO
"""

import sys

import cv2
import mediapipe as mp


def main(path: str) -> None:
    cap = cv2.VideoCapture(path)
    frames = found = 0
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1) as pose:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            result = pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            frames += 1
            found += result.pose_world_landmarks is not None
    cap.release()
    print(f"{found} of {frames} frames with a person")


if __name__ == "__main__":
    main(sys.argv[1])
