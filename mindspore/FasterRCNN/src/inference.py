"""``Predictor``: an image in, detections in original-image pixels out; the one path of demo.py, eval.py and the
export checks.

The input goes through the reference's evaluation preprocessing (``dataset.preprocess_eval``), the network in eval
mode returns every class's NMS survivors (``Faster_Rcnn.get_det_bboxes``), and ``eval_detections`` applies what the
reference's eval.py does after the network: keep the masked rows and, when more than ``num_gts`` (128) remain,
the ``num_gts`` of highest score (``np.argsort(-score)``, as eval.py).
"""
import os

import numpy as np

from .checkpoint import inference_config, load_into_network, read_checkpoint
from .dataset import preprocess_eval
from .image_io import read_image


def read_for_inference(checkpoint, cli_config=None):
    """``(config, params)`` to run ``checkpoint`` with: its stored configuration (or ``cli_config`` for a checkpoint
    of the official code) with the explicit run / inference flags of ``cli_config`` on top."""
    from .model_utils.config import inference_settings
    params, meta = read_checkpoint(checkpoint)
    cfg = inference_settings(inference_config(checkpoint, meta, cli_config), cli_config, checkpoint)
    return cfg, params


def eval_detections(all_bbox, all_label, all_mask, max_num):
    """One image's network outputs -> ``(N, 6)`` ``[x1, y1, x2, y2, score, label]`` as eval.py keeps them."""
    bbox = np.asarray(all_bbox).reshape(-1, 5)
    label = np.asarray(all_label).reshape(-1)
    mask = np.asarray(all_mask).reshape(-1).astype(bool)
    bbox, label = bbox[mask], label[mask]
    if bbox.shape[0] > max_num:
        inds = np.argsort(-bbox[:, -1])[:max_num]
        bbox, label = bbox[inds], label[inds]
    return np.concatenate([bbox, label[:, None].astype(np.float32)], axis=1).astype(np.float32)


def match_detections(dets, ref, top=50, iou_thr=0.99, score_tol=1e-3):
    """How many of ``ref``'s ``top`` best rows ``(N, 6)`` are matched one to one by a row of ``dets`` with the same
    label, IoU >= ``iou_thr`` and a score within ``score_tol`` (the fixture README's end-to-end criterion)."""
    ref = np.asarray(ref)[np.argsort(-np.asarray(ref)[:, 4], kind="stable")[:top]]
    dets = np.asarray(dets)
    used, matched = set(), 0
    for row in ref:
        best, best_iou = None, iou_thr
        for k, d in enumerate(dets):
            if k in used or d[5] != row[5] or abs(d[4] - row[4]) > score_tol:
                continue
            inter = max(min(d[2], row[2]) - max(d[0], row[0]), 0) * max(min(d[3], row[3]) - max(d[1], row[1]), 0)
            union = (d[2] - d[0]) * (d[3] - d[1]) + (row[2] - row[0]) * (row[3] - row[1]) - inter
            iou = inter / union if union > 0 else float(np.allclose(d[:4], row[:4]))
            if iou >= best_iou:
                best, best_iou = k, iou
        if best is not None:
            used.add(best)
            matched += 1
    return matched


class Predictor:
    """Faster R-CNN inference on single images.

    ``Predictor(checkpoint)`` builds the network of the configuration stored in the checkpoint (or ``config`` for a
    checkpoint of the official code) for ``batch_size`` images per call (default: the configuration's
    ``test_batch_size``). The MindSpore context (device, GRAPH mode) is the caller's: see ``src/device.py``.

    ``Predictor(params=..., config=...)`` runs given weights (``{name: Parameter}``, e.g. a training network's, or
    what ``read_for_inference`` read; ``checkpoint`` then only names them in messages).

    ``predictor(image)`` (a path or a BGR uint8 array) returns ``{"boxes": (N, 4), "scores": (N,), "labels": (N,)}``
    with labels the 0-based foreground class (``class_names[label]``)."""

    def __init__(self, checkpoint=None, config=None, batch_size=None, params=None):
        import mindspore as ms
        from .FasterRcnn.faster_rcnn import Faster_Rcnn
        from .model_utils.config import class_names
        if params is not None and config is not None:
            cfg = config
        elif checkpoint is not None:
            cfg, params = read_for_inference(checkpoint, config)
        else:
            raise ValueError("Predictor needs a checkpoint, or params and config")
        if batch_size is not None and batch_size != cfg.test_batch_size:
            cfg = type(cfg).from_dict(dict(cfg.to_dict(), test_batch_size=int(batch_size)))
        self.config = cfg
        self.checkpoint = os.fspath(checkpoint) if checkpoint is not None else "<in-memory weights>"
        self.batch_size = cfg.test_batch_size
        self.class_names = class_names(cfg)
        self.network = Faster_Rcnn(cfg)
        load_into_network(self.network, params, self.checkpoint)
        self.network.set_train(False)
        if ms.get_context("device_target") == "Ascend":
            self.network.to_float(ms.float16)
        self._ms = ms

    def load_weights(self, params):
        """Replace the weights (``{name: Parameter or Tensor}`` with the network's names)."""
        load_into_network(self.network, params, self.checkpoint)

    def preprocess(self, image):
        """``(CHW float32 canvas, img_meta (4,))`` of a path or BGR array."""
        img = read_image(image) if isinstance(image, (str, os.PathLike)) else image
        return preprocess_eval(img, self.config)

    def run(self, inputs, metas):
        """The network on a batch (fewer than ``batch_size`` images are padded): numpy ``(all_bbox, all_label,
        all_mask)`` of the given images."""
        n = len(inputs)
        if not 1 <= n <= self.batch_size:
            raise ValueError(f"run() takes 1 to {self.batch_size} images, got {n}")
        x = np.zeros((self.batch_size,) + inputs[0].shape, np.float32)
        m = np.ones((self.batch_size, 4), np.float32)
        x[:n] = np.stack(inputs)
        m[:n] = np.stack(metas)
        out = self.network(self._ms.Tensor(x), self._ms.Tensor(m))
        return tuple(o.asnumpy()[:n] for o in out)

    def detect_batch(self, images):
        """Eval.py's detections ``(N, 6)`` of each image (paths or arrays), ``batch_size`` at a time."""
        out = []
        for k in range(0, len(images), self.batch_size):
            pre = [self.preprocess(im) for im in images[k:k + self.batch_size]]
            bbox, label, mask = self.run([p[0] for p in pre], [p[1] for p in pre])
            out += [eval_detections(bbox[i], label[i], mask[i], self.config.num_gts) for i in range(len(pre))]
        return out

    def __call__(self, image):
        dets = self.detect_batch([image])[0]
        return {"boxes": dets[:, :4], "scores": dets[:, 4], "labels": dets[:, 5].astype(np.int64)}
