"""Bundled, offline source material: the 100 real LFW face crops and non-face photographs shipped inside the
scikit-image wheel (read straight from the package's data folder, never through a downloader).

Face geometry of the LFW crops
------------------------------
``skimage.data.lfw_subset()`` is a (200, 25, 25) float array; rows 0..99 are grey-level face crops from
Labeled Faces in the Wild, rows 100..199 random non-face patches of the same photos.  The face crops are
aligned (eyes on one row, same scale), so the five landmarks are located once on the *mean face* of the 100
crops and shared by all of them.  Coordinates are continuous pixel coordinates: pixel ``i`` covers
``[i, i + 1)``, so a pixel centre is ``i + 0.5``.

* eyes: the two darkest points of the bicubic x10 up-sampled mean face in the windows rows 6.5..10,
  cols 3..9.5 and cols 12..19  ->  (6.45, 8.45) and (15.65, 8.35);
* face axis: the mid-point of the eyes, x = 11.05, which is also where the bright nose-bridge ridge of
  rows 7..11 peaks (between cols 10 and 11);
* mouth: the dark lip line of the mean face spans pixel rows 17..18 (y = 18.0) and ends at the columns
  where it fades into the cheeks, x ~ 6.9 and ~ 15.1, i.e. 0.85 x the inter-ocular distance (9.2 px),
  the ratio of the standard 5-point template (ArcFace 112x112: 29.2 / 35.2 = 0.83);
* nose tip: on the axis, just above the dark nostril row 14 (y = 14.5): (11.05, 13.6); the template's
  eye-to-nose distance, 0.57 x IOD = 5.3 px below the eyes, gives the same 13.7.

The face *box* of a crop, drawn as WIDER FACE annotators draw it (forehead/hairline to chin, cheek to
cheek), is x 1.6 .. 20.5, y 0.0 .. 24.6 (19 x 24.6 px, aspect 1.3, the mean WIDER aspect).  The crops are cut
at the forehead, so the box starts at the top edge; the chin ends at row 24 (mean-face intensity drop).
"""
from __future__ import annotations

import functools
import os

import cv2
import numpy as np
from PIL import Image

CROP = 25
# landmark order of RetinaFace / WIDER-landmark annotations: left eye, right eye, nose, left and right mouth
# corner ("left" = smaller x in the image)
LANDMARKS = np.array([[6.45, 8.45], [15.65, 8.35], [11.05, 13.6], [6.9, 18.0], [15.1, 18.0]], np.float64)
FACE_BOX = np.array([1.6, 0.0, 20.5, 24.6], np.float64)   # x1, y1, x2, y2 in crop coordinates
FACE_CENTER = np.array([(FACE_BOX[0] + FACE_BOX[2]) / 2, (FACE_BOX[1] + FACE_BOX[3]) / 2])

# non-face photographs of the scikit-image wheel.  Excluded on purpose: astronaut.png and camera.png (human
# faces), coins.png (relief portraits on the coins), synthetic or medical images (color, logo, phantom,
# chessboard, retina, cell, ...).
SCENES = ["motorcycle_left.png", "rocket.jpg", "coffee.png", "brick.png", "text.png"]
WALLS = ["brick.png", "gravel.png", "grass.png", "moon.png", "text.png", "ihc.png"]
GROUNDS = ["grass.png", "gravel.png", "coffee.png", "brick.png"]
PRINTS = ["coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png", "clock_motion.png", "page.png",
          "text.png", "hubble_deep_field.jpg", "moon.png", "ihc.png", "motorcycle_right.png"]
BACKGROUNDS = sorted(set(SCENES + WALLS + GROUNDS + PRINTS))


def skimage_data_dir() -> str:
    import skimage.data

    return os.path.dirname(skimage.data.__file__)


@functools.lru_cache(maxsize=1)
def lfw_faces() -> tuple[np.ndarray, np.ndarray]:
    """(faces, non_faces): two (100, 25, 25) float32 arrays in [0, 1]."""
    path = os.path.join(skimage_data_dir(), "lfw_subset.npy")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: scikit-image's bundled LFW subset is missing (scikit-image >= 0.14 "
                                f"ships it in its wheel)")
    arr = np.load(path).astype(np.float32)
    if arr.shape != (200, CROP, CROP):
        raise ValueError(f"{path}: expected shape (200, 25, 25), got {arr.shape}")
    return arr[:100], arr[100:]


@functools.lru_cache(maxsize=None)
def background(name: str) -> np.ndarray:
    """A bundled photograph as float32 RGB in [0, 1] (grey images replicated to 3 channels)."""
    path = os.path.join(skimage_data_dir(), name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: bundled scikit-image sample image is missing")
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return np.ascontiguousarray(rgb)


def mean_face() -> np.ndarray:
    return lfw_faces()[0].mean(axis=0)


def locate_mean_face_eyes(upsample: int = 10) -> np.ndarray:
    """Recompute the eye positions from the mean face (documented procedure, used by the tests)."""
    m = mean_face()
    up = cv2.resize(m, (CROP * upsample, CROP * upsample), interpolation=cv2.INTER_CUBIC)
    out = []
    for (y0, y1, x0, x1) in [(6.5, 10, 3, 9.5), (6.5, 10, 12, 19)]:
        win = up[int(y0 * upsample):int(y1 * upsample), int(x0 * upsample):int(x1 * upsample)]
        iy, ix = np.unravel_index(np.argmin(win), win.shape)
        out.append([(ix + int(x0 * upsample) + 0.5) / upsample, (iy + int(y0 * upsample) + 0.5) / upsample])
    return np.array(out)
