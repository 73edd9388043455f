"""Inference: the exported graph (uint8 image in, boxes / scores / num_boxes out) and ``Predictor``, the one path from
an image to detections that ``demo.py``, ``eval.py``, ``export.py``'s parity check and ``tools/benchmark.py`` use."""
import os

import cv2
import numpy as np

from src.checkpoint import add_config_variable, read_config, resolve_checkpoint
from src.detector import Detector
from src.errors import CheckpointError, ConfigError, DataError
from src.image_io import read_image
from src.tf_compat import tf

OUTPUT_NAMES = ("boxes", "scores", "num_boxes")


def build_inference_graph(cfg, resize_to=None):
    """uint8 'image_tensor' [N,H,W,3] RGB -> 'boxes' [N,max_boxes,4] (ymin,xmin,ymax,xmax normalised to the input
    image), 'scores' [N,max_boxes], 'num_boxes' [N], with the thresholds of ``cfg["model_params"]``. With
    resize_to=(h, w) the image is first resized (bilinear) to that size, as the Ascend port's evaluation; normalised
    outputs still refer to the original image. This is the graph export.py writes (the reference's save.py)."""
    mp = cfg["model_params"]
    image_tensor = tf.placeholder(tf.uint8, [None, None, None, 3], name="image_tensor")
    images = tf.cast(image_tensor, tf.float32) / 255.0
    if resize_to is not None:
        images = tf.image.resize_images(images, list(resize_to), method=tf.image.ResizeMethod.BILINEAR)
    detector = Detector(images, cfg["architecture"], is_training=False)
    add_config_variable(cfg)
    pred = detector.get_predictions(mp["score_threshold"], mp["iou_threshold"], mp["max_boxes"])
    outputs = {name: tf.identity(pred[name], name=name) for name in OUTPUT_NAMES}
    return image_tensor, outputs


class Predictor(object):
    """Detections of one image: ``Predictor(ckpt)(image) -> (N, 5) float32 [x1, y1, x2, y2, score]`` in pixels of
    the original image, by descending score. ``image`` is a BGR uint8 array (OpenCV's order) or an image path.

    ``checkpoint``: a checkpoint prefix or folder (its configuration gives the network and the post-processing), or a
    frozen ``model.pb`` from export.py (the reference's ``FaceDetector(model_path)``; its post-processing is the one
    it was exported with). ``score_threshold`` / ``iou_threshold`` / ``max_boxes`` override the checkpoint's
    (a frozen graph can only raise the score threshold); ``resize_to=(h, w)`` resizes every image first."""

    def __init__(self, checkpoint, score_threshold=None, iou_threshold=None, max_boxes=None, resize_to=None,
                 device="cpu", threads=None):
        from src.config import from_dict
        from src.device import session_config

        config = session_config(device, threads=threads)
        self.score_threshold = None
        self.graph = tf.Graph()
        if str(checkpoint).endswith(".pb"):
            if iou_threshold is not None or max_boxes is not None or resize_to is not None:
                raise ConfigError("%s: a frozen graph keeps the NMS and input size it was exported with; only the "
                                  "score threshold can be raised" % checkpoint)
            self.source, self.config = checkpoint, None
            self.score_threshold = score_threshold
            with self.graph.as_default():
                tf.import_graph_def(_read_frozen_graph(checkpoint), name="")
                self.image_tensor = self.graph.get_tensor_by_name("image_tensor:0")
                self.outputs = {n: self.graph.get_tensor_by_name(n + ":0") for n in OUTPUT_NAMES}
            self.sess = tf.Session(graph=self.graph, config=config)
            return
        self.source = resolve_checkpoint(checkpoint)
        overrides = {k: v for k, v in (("score_threshold", score_threshold), ("iou_threshold", iou_threshold),
                                       ("max_boxes", max_boxes)) if v is not None}
        self.config = from_dict({"model_params": overrides}, source="Predictor", base=read_config(self.source))
        with self.graph.as_default():
            self.image_tensor, self.outputs = build_inference_graph(self.config, resize_to)
            saver = tf.train.Saver([v for v in tf.global_variables() if v.op.name != "config"])
            self.sess = tf.Session(config=config)
            saver.restore(self.sess, self.source)

    def __call__(self, image):
        if isinstance(image, (str, os.PathLike)):
            image = read_image(image, "bgr")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise DataError("expected a BGR uint8 image [H, W, 3], got %s %s" % (image.dtype, image.shape))
        out = self.raw_outputs(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))   # 30x faster than a numpy flip
        n = int(out["num_boxes"][0])
        h, w = image.shape[:2]
        b = out["boxes"][0, :n] * np.array([h, w, h, w], np.float32)
        dets = np.concatenate([b[:, [1, 0, 3, 2]], out["scores"][0, :n, None]], axis=1).astype(np.float32)
        if self.score_threshold is not None:
            dets = dets[dets[:, 4] >= self.score_threshold]
        return dets

    def raw_outputs(self, rgb):
        """The graph's outputs for one RGB uint8 image: normalised 'boxes' [1, max_boxes, 4], 'scores', 'num_boxes'."""
        return self.sess.run(self.outputs, {self.image_tensor: rgb[None]})

    def close(self):
        self.sess.close()


def _read_frozen_graph(path):
    if not os.path.isfile(path):
        raise CheckpointError("%s: no such frozen graph file" % path)
    graph_def = tf.GraphDef()
    with open(path, "rb") as f:
        try:
            graph_def.ParseFromString(f.read())
        except Exception:  # protobuf's DecodeError
            raise CheckpointError("%s: not a frozen TensorFlow graph (.pb)" % path) from None
    names = {n.name for n in graph_def.node}
    missing = [n for n in ("image_tensor",) + OUTPUT_NAMES if n not in names]
    if missing:
        raise CheckpointError("%s: not a FaceBoxes frozen graph (lacks %s); export one with export.py"
                              % (path, ", ".join(missing)))
    return graph_def
