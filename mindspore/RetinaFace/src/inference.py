"""Loading a checkpoint of this folder into a predict-phase network, and single-image detection."""

import cv2
import numpy as np

from .config import get_config
from .utils import detect, load_ckpt, prior_box

_SKIP_PREFIXES = ("moments.", "accum.", "stat.", "learning_rate", "global_step", "momentum")


def network_params(params):
    """Keep the network's parameters of a (possibly training) checkpoint, names relative to ``RetinaFace``."""
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
    """(RetinaFace in eval mode, model cfg). The configuration comes from the checkpoint itself."""
    import mindspore as ms
    from .network import RetinaFace

    params, model_cfg, _ = load_ckpt(ckpt_path)
    cfg = get_config(model_cfg["backbone"] if model_cfg else "resnet50")
    if model_cfg:
        cfg.update(model_cfg)
    net = RetinaFace(cfg, phase=phase)
    params = network_params(params)
    not_loaded, _ = ms.load_param_into_net(net, params)
    not_loaded = [n for n in not_loaded if not n.startswith("body.end_point")]
    if not_loaded:
        raise ValueError(f"{ckpt_path}: {len(not_loaded)} network parameters missing (e.g. {not_loaded[:3]}); is it "
                         f"a RetinaFace checkpoint of this folder (or tools/convert_official.py output)?")
    net.set_train(False)
    return net, cfg


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


class Detector:
    """Runs the network on one BGR image.

    ``mode='canvas'`` (reference eval): resize by :func:`resize_factor`, paste at the top-left of a fixed
    ``canvas`` x ``canvas`` mean-filled canvas (one static shape, priors computed once).
    ``mode='origin'``: resize 1, paste on a fixed (canvas_h, canvas_w) canvas (``--val_origin_size``).
    ``mode='native'``: resize 1, the network runs at the image's own size (demo / reference test.py).
    """

    def __init__(self, net, cfg, mode="native", target_size=1600, max_size=2176, canvas_hw=None,
                 confidence_threshold=0.02, nms_threshold=0.4, top_k=None, keep_top_k=None):
        self.net = net
        self.cfg = cfg
        self.mode = mode
        self.target_size = target_size
        self.max_size = max_size
        if mode == "canvas":
            canvas_hw = (max_size, max_size)
        self.canvas_hw = canvas_hw
        self.mean = np.asarray(cfg["mean_bgr"], np.float32)
        self.conf_thresh = confidence_threshold
        self.nms_thresh = nms_threshold
        self.top_k = top_k
        self.keep_top_k = keep_top_k
        self._priors = {}

    def priors(self, hw):
        hw = tuple(int(v) for v in hw)
        if hw not in self._priors:
            self._priors[hw] = prior_box(hw, self.cfg["min_sizes"], self.cfg["steps"], self.cfg["clip"])
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
                raise ValueError(f"image of {iw}x{ih} does not fit the {cw}x{ch} canvas")
            canvas = np.zeros((ch, cw, 3), np.float32)          # mean-filled canvas, after mean subtraction
            canvas[:ih, :iw] = x
            x = canvas
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None]), resize

    def raw(self, x):
        import mindspore as ms
        loc, conf, landm = self.net(ms.Tensor(x))
        return loc.asnumpy()[0], conf.asnumpy()[0], landm.asnumpy()[0]

    def __call__(self, image):
        """(N, 15) detections [x1, y1, x2, y2, score, lx0, ly0, ..., lx4, ly4] in original-image pixels."""
        x, resize = self.prepare(image)
        loc, conf, landm = self.raw(x)
        hw = x.shape[2:]
        return detect(loc, conf, landm, self.priors(hw), self.cfg["variance"], hw, resize, self.conf_thresh,
                      self.nms_thresh, self.top_k, self.keep_top_k)


def origin_canvas(sizes_hw):
    """Canvas (H, W) of the ``val_origin_size`` protocol for images of the given (h, w)."""
    mh = max(h for h, _ in sizes_hw)
    mw = max(w for _, w in sizes_hw)
    return round_up_32(mh), round_up_32(mw)


__all__ = ["Detector", "load_model", "network_params", "resize_factor", "origin_canvas", "round_up_32"]
