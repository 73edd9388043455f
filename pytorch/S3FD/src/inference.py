"""``Predictor``: one image (BGR uint8 array or path) in, detections ``[x1, y1, x2, y2, score]`` in original-image
pixels out. The single inference path of ``demo.py``, ``eval.py`` / ``tools/wider_test.py`` and ``export.py``.

Protocols (the reference's, with the numbers of ``data/config.py``):

``demo``    demo.py: ``shrink = sqrt(TEST_MAX_PIXELS / (H * W))`` (1700 x 1200, not clamped: small images are
            enlarged), ``cv2.resize(fx=fy=shrink, INTER_LINEAR)``, Detect, normalised boxes times the original
            W, H; rows with score >= ``DEMO_THRESH`` (0.6).
``native``  fddb_test.py: the image at its own size, boxes times W, H.
``wider``   tools/wider_test.py: base scale ``min(1, max_shrink)``, its flip, the multi-scale passes, bbox voting
            (IoU 0.3, top 750); see ``wider_detect``. Scores >= ``EVAL_THRESH`` (0.05).
``single``  the base-scale pass of ``wider`` alone (quick evaluation).
``resize``  (zoo) the image stretched to ``input_size x input_size``, as training's 'val' preprocessing sees it.

Detect keeps the 750 best boxes per pass; a pass whose scaled image is smaller than the network's minimum input
(28 px for yxlijun) contributes no box (the reference would fail there).
"""
import cv2
import numpy as np
import torch
import torch.nn.functional as F

from layers.bbox_utils import decode
from layers.functions.detection import Detect
from layers.functions.prior_box import feature_map_sizes, min_input_side, priors_for
from utils.augmentations import to_input

from .image_io import read_image

PROTOCOLS = ("demo", "native", "wider", "single", "resize")


class TorchRunner:
    """The PyTorch network: input [1, 3, H, W] float32 -> (loc [P, 4], softmax conf [P, 2], feature maps)."""

    def __init__(self, net, device, amp=False):
        self.net = net.to(device).eval()
        self.device = device
        self.amp = amp
        self.dtype = torch.bfloat16 if device.type == "cpu" else torch.float16

    @torch.no_grad()
    def __call__(self, x):
        x = torch.from_numpy(x).unsqueeze(0).to(self.device)
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.amp):
            loc, conf, maps = self.net.heads(x)
        return loc[0].float().cpu(), F.softmax(conf[0].float(), dim=-1).cpu(), maps


class OnnxRunner:
    """An exported model (``export.py``) under onnxruntime; feature maps from ``feature_map_sizes``."""

    def __init__(self, path, cfg):
        import onnxruntime as ort
        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.cfg = cfg

    def __call__(self, x):
        loc, conf = self.session.run(["loc", "conf"], {"input": x[None]})
        return torch.from_numpy(loc[0]), torch.from_numpy(conf[0]), feature_map_sizes(x.shape[1], x.shape[2],
                                                                                        self.cfg)


def bbox_vote(det, vote_thresh, top_k):
    """The reference's box voting, fixed: repeatedly take the highest-scoring box and every remaining box with IoU
    (+1 pixel areas) >= ``vote_thresh`` with it; the cluster becomes its score-weighted mean box with the cluster's
    maximum score. Clusters are in descending score order; the first ``top_k`` are returned.

    Deviations (bugs fixed): a single-member cluster is kept as it is (the reference drops it), and no box gives an
    empty result (the reference crashes)."""
    det = np.asarray(det, np.float64).reshape(-1, 5)
    if det.shape[0] == 0:
        return np.zeros((0, 5), np.float64)
    det = det[det[:, 4].ravel().argsort()[::-1], :]
    out = []
    while det.shape[0] > 0 and len(out) < top_k:
        area = (det[:, 2] - det[:, 0] + 1) * (det[:, 3] - det[:, 1] + 1)
        xx1 = np.maximum(det[0, 0], det[:, 0])
        yy1 = np.maximum(det[0, 1], det[:, 1])
        xx2 = np.minimum(det[0, 2], det[:, 2])
        yy2 = np.minimum(det[0, 3], det[:, 3])
        inter = np.maximum(0.0, xx2 - xx1 + 1) * np.maximum(0.0, yy2 - yy1 + 1)
        o = inter / (area[0] + area[:] - inter)
        merge = np.where(o >= vote_thresh)[0]
        if merge.size == 0:                 # a box that does not even overlap itself (NaN or inverted): drop it
            merge = np.array([0])
            accu = None
        else:
            accu = det[merge, :]
        det = np.delete(det, merge, 0)
        if accu is None:
            continue
        w = accu[:, 4:5]
        box = np.sum(accu[:, 0:4] * w, axis=0) / np.sum(w)
        out.append(np.concatenate([box, [np.max(accu[:, 4])]]))
    return np.asarray(out, np.float64).reshape(-1, 5)


class Predictor:
    """S3FD on one image. ``runner`` maps a [3, H, W] float32 input to (loc, softmax conf, feature maps)."""

    def __init__(self, runner, cfg):
        self.runner = runner
        self.cfg = cfg
        self.detector = Detect(cfg)
        self.min_side = min_input_side(cfg)

    @classmethod
    def from_checkpoint(cls, path, device=None, amp=False):
        """The network of a checkpoint of this folder (configuration included) on ``device`` (default cpu)."""
        from s3fd import build_s3fd

        from .checkpoint import config_of, load_weights, read_checkpoint
        ck = read_checkpoint(path)
        cfg = config_of(ck, path)
        net = build_s3fd("test", cfg.NUM_CLASSES, cfg)
        load_weights(net, ck["state_dict"], path)
        return cls(TorchRunner(net, device or torch.device("cpu"), amp), cfg)

    # ------------------------------------------------------------------------------------------- one pass
    def raw(self, x):
        """Network input [3, H, W] -> (loc [P, 4], softmax conf [P, 2], priors [P, 4]) as float32 tensors."""
        loc, conf, maps = self.runner(np.ascontiguousarray(x, np.float32))
        return loc, conf, priors_for(x.shape[1:], maps, self.cfg)

    def detect_input(self, x):
        """Detect on one network input: [n, 5] rows ``(score, x1, y1, x2, y2)`` normalised (n <= TOP_K), the
        non-zero rows of Detect's output."""
        loc, conf, priors = self.raw(x)
        return self.detector.image(decode(loc, priors, self.cfg.VARIANCE), conf[:, 1].clone())

    def scaled(self, image, shrink):
        """The BGR image resized by ``shrink`` (cv2 INTER_LINEAR with fx = fy, as the reference; 1 = unchanged)."""
        if shrink == 1:
            return image
        return cv2.resize(image, None, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_LINEAR)

    def max_shrink(self, image):
        h, w = image.shape[:2]
        return float(np.sqrt(self.cfg.TEST_MAX_PIXELS / (h * w)))

    def _rows(self, scaled_image):
        """Detect rows of one scaled BGR image, or None when it is below the network's minimum input."""
        h, w = scaled_image.shape[:2]
        if min(h, w) < self.min_side:
            return None
        return self.detect_input(to_input(scaled_image, "bgr", self.cfg))

    def detect_face(self, image, shrink, thresh):
        """tools/wider_test.py's ``detect_face``: [n, 5] ``x1 y1 x2 y2 score`` in original pixels (resized size
        divided by ``shrink``), scores >= ``thresh``."""
        img = self.scaled(image, shrink)
        rows = self._rows(img)
        if rows is None:
            return np.zeros((0, 5), np.float64)
        r = rows.numpy().astype(np.float64)
        h, w = img.shape[:2]
        det = np.column_stack((w * r[:, 1] / shrink, h * r[:, 2] / shrink, w * r[:, 3] / shrink,
                               h * r[:, 4] / shrink, r[:, 0]))
        return det[det[:, 4] >= thresh]

    def _scaled_by_original(self, image, scaled_image, thresh):
        """demo.py / fddb_test.py: normalised boxes times the ORIGINAL width and height (float32)."""
        rows = self._rows(scaled_image)
        if rows is None:
            return np.zeros((0, 5), np.float32)
        h, w = image.shape[:2]
        pts = rows[:, 1:] * torch.tensor([w, h, w, h], dtype=torch.float32)
        det = torch.cat((pts, rows[:, :1]), 1).numpy()
        return det[det[:, 4] >= thresh]

    # ------------------------------------------------------------------------------------------- protocols
    def flip_test(self, image, shrink, thresh):
        det_f = self.detect_face(cv2.flip(image, 1), shrink, thresh)
        det_t = np.zeros(det_f.shape)
        det_t[:, 0] = image.shape[1] - det_f[:, 2]
        det_t[:, 1] = det_f[:, 1]
        det_t[:, 2] = image.shape[1] - det_f[:, 0]
        det_t[:, 3] = det_f[:, 3]
        det_t[:, 4] = det_f[:, 4]
        return det_t

    def multi_scale_test(self, image, max_im_shrink, thresh):
        """The reference's two extra passes: a shrunk one (0.5, or 0.5 * max_shrink when max_shrink < 0.75) keeping
        boxes with max side > 30, and enlarged ones (min(2, max_shrink) if max_shrink > 1, else the mean of the shrunk
        scale and max_shrink; while max_shrink > 2 doubling up to it, plus max_shrink itself) keeping boxes with min
        side < 100 when the last scale is > 1, else max side > 30 (sides with +1)."""
        st = 0.5 if max_im_shrink >= 0.75 else 0.5 * max_im_shrink
        det_s = self.detect_face(image, st, thresh)
        det_s = det_s[np.maximum(det_s[:, 2] - det_s[:, 0] + 1, det_s[:, 3] - det_s[:, 1] + 1) > 30]

        bt = min(2, max_im_shrink) if max_im_shrink > 1 else (st + max_im_shrink) / 2
        det_b = self.detect_face(image, bt, thresh)
        if max_im_shrink > 2:
            bt *= 2
            while bt < max_im_shrink:
                det_b = np.vstack((det_b, self.detect_face(image, bt, thresh)))
                bt *= 2
            det_b = np.vstack((det_b, self.detect_face(image, max_im_shrink, thresh)))
        if bt > 1:
            det_b = det_b[np.minimum(det_b[:, 2] - det_b[:, 0] + 1, det_b[:, 3] - det_b[:, 1] + 1) < 100]
        else:
            det_b = det_b[np.maximum(det_b[:, 2] - det_b[:, 0] + 1, det_b[:, 3] - det_b[:, 1] + 1) > 30]
        return det_s, det_b

    def wider_detect(self, image, thresh=None, single_scale=False):
        """tools/wider_test.py on one image: base, flip, multi-scale, bbox voting (or the base pass only)."""
        thresh = self.cfg.EVAL_THRESH if thresh is None else thresh
        max_im_shrink = self.max_shrink(image)
        shrink = max_im_shrink if max_im_shrink < 1 else 1
        det0 = self.detect_face(image, shrink, thresh)
        if single_scale:
            return det0
        det1 = self.flip_test(image, shrink, thresh)
        det2, det3 = self.multi_scale_test(image, max_im_shrink, thresh)
        return bbox_vote(np.vstack((det0, det1, det2, det3)), self.cfg.VOTE_THRESH, self.cfg.VOTE_TOP_K)

    def __call__(self, image, protocol="demo", thresh=None, input_size=None):
        """Detections of ``image`` (BGR uint8 array or path): [N, 5] ``x1 y1 x2 y2 score``, original pixels,
        descending score."""
        if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
            image = read_image(image, "bgr")
        if protocol == "demo":
            t = self.cfg.DEMO_THRESH if thresh is None else thresh
            return self._scaled_by_original(image, self.scaled_demo(image), t)
        if protocol == "native":
            return self._scaled_by_original(image, image, self.cfg.EVAL_THRESH if thresh is None else thresh)
        if protocol == "resize":
            if not input_size:
                raise ValueError("protocol 'resize' needs input_size")
            img = cv2.resize(image, (int(input_size), int(input_size)), interpolation=cv2.INTER_LINEAR)
            return self._scaled_by_original(image, img, self.cfg.EVAL_THRESH if thresh is None else thresh)
        if protocol in ("wider", "single"):
            return self.wider_detect(image, thresh, single_scale=protocol == "single")
        raise ValueError(f"unknown protocol {protocol!r} (one of {', '.join(PROTOCOLS)})")

    def scaled_demo(self, image):
        """demo.py's input: resized by sqrt(TEST_MAX_PIXELS / (H * W)), also when that enlarges the image."""
        shrink = self.max_shrink(image)
        return cv2.resize(image, None, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_LINEAR)
