"""Inference graph shared by eval.py, demo.py and export.py, and a checkpoint-backed Predictor."""
import numpy as np

from src.checkpoint_utils import add_model_config_variable, read_model_config, resolve_checkpoint
from src.detector import Detector
from src.tf_compat import tf

DEFAULT_SCORE_THRESHOLD = 0.05
DEFAULT_IOU_THRESHOLD = 0.3
DEFAULT_MAX_BOXES = 200


def build_inference_graph(cfg, score_threshold=DEFAULT_SCORE_THRESHOLD, iou_threshold=DEFAULT_IOU_THRESHOLD,
                          max_boxes=DEFAULT_MAX_BOXES, resize_to=None):
    """uint8 'image_tensor' [N,H,W,3] RGB -> 'boxes' [N,max_boxes,4] (ymin,xmin,ymax,xmax normalised to the input
    image), 'scores' [N,max_boxes], 'num_boxes' [N]. With resize_to=(h, w) the image is first resized (bilinear) to
    that size, as the Ascend port's evaluation; normalised outputs still refer to the original image."""
    image_tensor = tf.placeholder(tf.uint8, [None, None, None, 3], name="image_tensor")
    images = tf.cast(image_tensor, tf.float32) / 255.0
    if resize_to is not None:
        images = tf.image.resize_images(images, list(resize_to), method=tf.image.ResizeMethod.BILINEAR)
    detector = Detector(images, cfg, is_training=False)
    add_model_config_variable(cfg)
    pred = detector.get_predictions(score_threshold, iou_threshold, max_boxes)
    outputs = {
        "boxes": tf.identity(pred["boxes"], name="boxes"),
        "scores": tf.identity(pred["scores"], name="scores"),
        "num_boxes": tf.identity(pred["num_boxes"], name="num_boxes"),
    }
    return image_tensor, outputs, detector


class Predictor(object):
    """Detections from a checkpoint: ``Predictor(ckpt)(rgb_uint8) -> (N,5) [x1, y1, x2, y2, score]`` in pixels."""

    def __init__(self, checkpoint, score_threshold=DEFAULT_SCORE_THRESHOLD, iou_threshold=DEFAULT_IOU_THRESHOLD,
                 max_boxes=DEFAULT_MAX_BOXES, resize_to=None, device="cpu", threads=None):
        from src.device import session_config

        self.prefix = resolve_checkpoint(checkpoint)
        self.cfg = read_model_config(self.prefix)
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.image_tensor, self.outputs, self.detector = build_inference_graph(
                self.cfg, score_threshold, iou_threshold, max_boxes, resize_to)
            saver = tf.train.Saver([v for v in tf.global_variables() if v.op.name != "model_config"])
            self.sess = tf.Session(config=session_config(device, threads=threads))
            saver.restore(self.sess, self.prefix)

    def __call__(self, image):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("expected an RGB uint8 image [H, W, 3], got %s %s" % (image.dtype, image.shape))
        out = self.sess.run(self.outputs, {self.image_tensor: image[None]})
        n = int(out["num_boxes"][0])
        h, w = image.shape[:2]
        b = out["boxes"][0, :n] * np.array([h, w, h, w], np.float32)
        return np.concatenate([b[:, [1, 0, 3, 2]], out["scores"][0, :n, None]], axis=1).astype(np.float32)

    def close(self):
        self.sess.close()


def read_rgb(path):
    """Read an image file as RGB uint8; raises ValueError naming the file if it cannot be decoded.

    A truncated JPEG is an error too: OpenCV would only print a libjpeg warning and return the image with its
    missing part grey, so JPEG files are first fully decoded by Pillow, which reports the truncation.
    """
    import io
    import os

    import cv2
    from PIL import Image

    if not os.path.isfile(path):
        raise FileNotFoundError("%s: no such image file" % path)
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\xff\xd8":  # JPEG
        try:
            Image.open(io.BytesIO(data)).load()
        except Exception as e:
            raise ValueError("%s: corrupt or truncated JPEG (%s)" % (path, str(e).splitlines()[0] if str(e) else
                                                                     type(e).__name__))
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("%s: cannot decode image (corrupt or unsupported format)" % path)
    return img[:, :, ::-1].copy()
