"""A checkpoint of this folder as a predict-phase network, and ``Predictor``: one image in, detections out.

``Predictor`` is the single path that ``demo.py``, ``eval.py`` and the tests run; ``detect`` is its post-processing
(decode, score threshold, exact greedy NMS), usable on raw outputs alone.
"""
import cv2
import numpy as np

from .box_coder import decode, decode_landm
from .checkpoint import load
from .config import get_config
from .errors import CheckpointError, DataError
from .image_io import read_image
from .nms import nms
from .prior_box import priors_for

# entries of a training checkpoint that are not network weights (SGD state, step counter, schedule)
_SKIP_PREFIXES = ("moments.", "accum.", "stat.", "learning_rate", "global_step", "momentum")


def network_params(params):
    """The network's parameters of a (possibly training) checkpoint, names relative to ``RetinaFace``."""
    out = {}
    for k, v in params.items():
        if k.startswith(_SKIP_PREFIXES):
            continue
        if k.startswith("network.network."):
            k = k[len("network.network."):]
        elif k.startswith("network."):
            k = k[len("network."):]
        out[k] = v
    return out


def load_model(ckpt_path, phase="predict"):
    """(RetinaFace in eval mode, cfg). The configuration comes from the checkpoint itself (a checkpoint without one,
    e.g. of the official MindSpore RetinaFace, is read as the ResNet50 preset)."""
    import mindspore as ms
    from .network import RetinaFace

    params, cfg, _ = load(ckpt_path)
    if cfg is None:
        cfg = get_config("resnet50")
    net = RetinaFace(cfg, phase=phase)
    not_loaded, _ = ms.load_param_into_net(net, network_params(params))
    not_loaded = [n for n in not_loaded if not n.startswith("body.end_point")]
    if not_loaded:
        raise CheckpointError(f"{ckpt_path}: not a RetinaFace-{cfg['backbone']} checkpoint: {len(not_loaded)} network "
                              f"parameters missing (e.g. {', '.join(not_loaded[:3])})")
    net.set_train(False)
    return net, cfg


def detect(loc, conf, landms, priors, variances, scale_hw, resize=1.0, confidence_threshold=0.02,
           nms_threshold=0.4, top_k=None, keep_top_k=None):
    """Decode one image's raw outputs into (N, 15) [x1, y1, x2, y2, score, 10 landmark coords] in image pixels.

    loc (P, 4), conf (P, 2) softmax scores, landms (P, 10) or None; ``scale_hw`` = (H, W) of the network input the
    priors were built for; coordinates are divided by ``resize`` (the image -> input scale factor). Boxes with a
    score above ``confidence_threshold``, sorted by score (the first ``top_k`` when given), greedy NMS, the first
    ``keep_top_k`` when given. The MindSpore eval protocol is 0.02 / 0.4 without top-k; the PyTorch original's
    detect.py 0.02 / 0.4 / 5000 / 750.
    """
    h, w = scale_hw
    with np.errstate(over="ignore", invalid="ignore"):
        boxes = decode(np.asarray(loc).reshape(-1, 4), priors, variances)
        boxes = boxes * np.array([w, h, w, h], np.float32) / np.float32(resize)
    scores = np.asarray(conf).reshape(-1, 2)[:, 1]
    if landms is not None:
        lm = decode_landm(np.asarray(landms).reshape(-1, 10), priors, variances)
        lm = lm * np.array([w, h] * 5, np.float32) / np.float32(resize)
    else:
        lm = np.zeros((boxes.shape[0], 10), np.float32)
    # an untrained network can overflow exp() in the decode: a non-finite box is not a detection
    inds = np.where((scores > confidence_threshold) & np.isfinite(boxes).all(axis=1))[0]
    boxes, lm, scores = boxes[inds], lm[inds], scores[inds]
    order = scores.argsort()[::-1]
    if top_k is not None:
        order = order[:top_k]
    boxes, lm, scores = boxes[order], lm[order], scores[order]
    dets = np.hstack((boxes, scores[:, None])).astype(np.float32, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):     # finite but huge boxes of an untrained network
        keep = nms(dets, nms_threshold)
    out = np.concatenate((dets[keep], lm[keep]), axis=1)
    if keep_top_k is not None:
        out = out[:keep_top_k]
    return out


def resize_factor(h, w, target_size=1600, max_size=2176):
    """Reference eval protocol: short side to ``target_size`` unless the long side would exceed ``max_size``."""
    short, long = min(h, w), max(h, w)
    resize = float(target_size) / float(short)
    if round(resize * long) > max_size:
        resize = float(max_size) / float(long)
    return resize


def round_up_32(x):
    """(floor(x / 32) + 1) * 32, the research variant's origin-size canvas rounding."""
    return (int(x) // 32 + 1) * 32


def origin_canvas(sizes_hw):
    """Canvas (H, W) of the ``val_origin_size`` protocol for images of the given (h, w)."""
    mh = max(h for h, _ in sizes_hw)
    mw = max(w for _, w in sizes_hw)
    return round_up_32(mh), round_up_32(mw)


class Predictor:
    """Runs the network on one image (a BGR uint8 array or a path) and returns its detections in original-image
    pixels, (N, 15) ``[x1, y1, x2, y2, score, lx0, ly0, ..., lx4, ly4]``.

    ``mode='canvas'`` (reference eval): resize by :func:`resize_factor`, paste at the top-left of a fixed
    ``max_size`` x ``max_size`` canvas holding the mean (one static shape, priors computed once).
    ``mode='origin'``: resize 1, paste on a fixed ``canvas_hw`` canvas (``--val_origin_size``).
    ``mode='native'``: resize 1, the network runs at the image's own size (demo / the PyTorch original's detect.py).
    """

    def __init__(self, net, cfg, mode="native", target_size=1600, max_size=2176, canvas_hw=None,
                 confidence_threshold=0.02, nms_threshold=0.4, top_k=None, keep_top_k=None):
        if mode not in ("canvas", "origin", "native"):
            raise ValueError(f"mode must be 'canvas', 'origin' or 'native', not {mode!r}")
        self.net = net
        self.cfg = cfg
        self.mode = mode
        self.target_size = target_size
        self.max_size = max_size
        self.canvas_hw = (max_size, max_size) if mode == "canvas" else canvas_hw
        self.mean = np.asarray(cfg["mean_bgr"], np.float32)
        self.conf_thresh = confidence_threshold
        self.nms_thresh = nms_threshold
        self.top_k = top_k
        self.keep_top_k = keep_top_k
        self._priors = {}

    def priors(self, hw):
        hw = tuple(int(v) for v in hw)
        if hw not in self._priors:
            self._priors[hw] = priors_for(self.cfg, hw)
        return self._priors[hw]

    def prepare(self, image):
        """-> (NCHW float32 input, resize factor)."""
        h, w = image.shape[:2]
        resize = 1.0
        if self.mode == "canvas":
            resize = resize_factor(h, w, self.target_size, self.max_size)
            if resize != 1.0:
                image = cv2.resize(image, None, None, fx=resize, fy=resize, interpolation=cv2.INTER_LINEAR)
        x = image.astype(np.float32) - self.mean
        if self.canvas_hw is not None:
            ch, cw = self.canvas_hw
            ih, iw = x.shape[:2]
            if ih > ch or iw > cw:
                raise DataError(f"image of {iw}x{ih} does not fit the {cw}x{ch} canvas")
            canvas = np.zeros((ch, cw, 3), np.float32)          # mean-filled canvas, after mean subtraction
            canvas[:ih, :iw] = x
            x = canvas
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None]), resize

    def raw(self, x):
        import mindspore as ms
        loc, conf, landm = self.net(ms.Tensor(x))
        return loc.asnumpy()[0], conf.asnumpy()[0], landm.asnumpy()[0]

    def __call__(self, image):
        if not isinstance(image, np.ndarray):
            image = read_image(image)
        x, resize = self.prepare(image)
        loc, conf, landm = self.raw(x)
        hw = x.shape[2:]
        return detect(loc, conf, landm, self.priors(hw), self.cfg["variance"], hw, resize, self.conf_thresh,
                      self.nms_thresh, self.top_k, self.keep_top_k)
