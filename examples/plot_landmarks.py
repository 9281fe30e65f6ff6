"""
Face landmarks on a photo
=========================

:class:`sk3dface.FaceLandmarker` finds the face in each image (dlib's HOG detector by
default) and predicts the 68 iBUG landmarks, returned as one row of ``x, y`` pixel
coordinates per sample. Here we draw them on Grace Hopper's portrait (shipped with
matplotlib) and on a mirrored copy, whose landmarks mirror the original's.

Usage: ``python examples/plot_landmarks.py [output.png]`` (default: a temporary folder).
"""

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import cbook

from sk3dface import FaceLandmarker, landmarks_to_views
from sk3dface.plotting import plot_landmarks

photo = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
image = plt.imread(photo)  # uint8 RGB, as FaceLandmarker expects arrays
mirrored = image[:, ::-1]

# X is a sequence of samples: here two images (a path and an array)
landmarker = FaceLandmarker()
landmarks = landmarks_to_views(landmarker.fit_transform([photo, mirrored]))  # (2, 1, 68, 2)

fig, axes = plt.subplots(1, 2, figsize=(9, 5.5), layout="constrained")
for ax, picture, points, title in zip(
    axes, (image, mirrored), landmarks[:, 0], ("original", "mirrored"), strict=True
):
    plot_landmarks(picture, points, ax=ax)
    for index in (36, 45, 30, 8):  # right eye corner, left eye corner, nose tip, chin
        ax.annotate(str(index), points[index], color="yellow", fontsize=8,
                    xytext=(4, -4), textcoords="offset points")  # fmt: skip
    ax.set_title(f"{title}: 68 iBUG landmarks")
fig.suptitle("FaceLandmarker (dlib HOG detector + 68-point shape predictor)")

output = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "landmarks.png"
fig.savefig(output, dpi=100)
print(f"saved {output}")
