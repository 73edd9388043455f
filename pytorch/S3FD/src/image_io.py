"""Reading images for demo, evaluation and training: an image that does not decode completely is an error.

Identical copy in every model folder (``ci/model_template/src/image_io.py``; ``ci/tests`` checks it).

libjpeg decodes a truncated JPEG with only a "Premature end of JPEG file" warning and grey rows where the data
stops; OpenCV returns that image as if it were whole. ``read_image`` checks that the file is complete before it
decodes: a JPEG's end-of-image marker must follow its last scan, a PNG must end with its IEND chunk; other formats
are fully decoded by Pillow first, which raises on truncation. Decoding itself is ``cv2.imread`` (the pixels every
reference of the zoo was run with).
"""
import os

import cv2
import numpy as np

from .errors import DataError

_JPEG_SOI, _JPEG_SOS, _JPEG_EOI = b"\xff\xd8", b"\xff\xda", b"\xff\xd9"
_PNG_SIGNATURE, _PNG_IEND = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"


def check_complete(path, data):
    """Raise ``DataError`` naming ``path`` when the encoded bytes ``data`` are empty or cut short."""
    if not data:
        raise DataError(f"{path}: empty file, not an image")
    if data.startswith(_JPEG_SOI):
        sos = data.rfind(_JPEG_SOS)
        if sos < 0 or data.rfind(_JPEG_EOI) < sos:
            raise DataError(f"{path}: truncated JPEG (no end-of-image marker after the last scan): "
                            f"the file does not decode completely")
    elif data.startswith(_PNG_SIGNATURE):
        if _PNG_IEND not in data[-64:]:
            raise DataError(f"{path}: truncated PNG (no IEND chunk at the end): the file does not decode completely")
    else:
        import io

        from PIL import Image, UnidentifiedImageError
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise DataError(f"{path}: not a complete image ({e})") from None


def read_image(path, order="bgr"):
    """``path`` as an ``H x W x 3`` uint8 array in ``order`` ``"bgr"`` (OpenCV's) or ``"rgb"``; grey images get
    three channels. Raises ``DataError`` naming the file when it is missing, not an image, or incomplete."""
    if order not in ("bgr", "rgb"):
        raise ValueError(f"order must be 'bgr' or 'rgb', not {order!r}")
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not an image") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read the image ({e.strerror or e})") from None
    check_complete(path, data)
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"{path}: not an image OpenCV can decode")
    return img if order == "bgr" else np.ascontiguousarray(img[:, :, ::-1])
