"""Atomic file writes: a reader (or a crash) never sees a half-written result file."""
import json
import os


def write_json_atomic(path, obj, indent=2):
    """json.dump to PATH.tmp, then rename over PATH (creating the parent folder)."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=indent)
        f.write("\n")
    os.replace(tmp, path)


def write_image_atomic(path, bgr):
    """cv2.imwrite to a temporary name with the same extension (it picks the format), then rename."""
    import cv2

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    root, ext = os.path.splitext(path)
    tmp = root + ".tmp" + ext
    try:
        ok = cv2.imwrite(tmp, bgr)
    except cv2.error:  # OpenCV raises for an extension it has no writer for
        ok = False
    if not ok:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise ValueError("%s: cannot write the output image (use .jpg or .png)" % path)
    os.replace(tmp, path)
