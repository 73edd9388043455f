"""Single-image inference: checkpoint config -> pre-processing -> network -> decode -> original-image pixels."""
import numpy as np
import torch

from .decode import decode
from .model import fuse_bn, optimize_for_cpu
from .transforms import preprocess, to_image_coords

# per-convention defaults: (score threshold for drawing, NMS IoU, score threshold for WIDER evaluation)
DEFAULTS = {
    "official": {"threshold": 0.35, "nms": 0.3, "eval_threshold": 0.05, "eval_nms": 0.3},
    "chenjun2hao": {"threshold": 0.35, "nms": None, "eval_threshold": 0.0, "eval_nms": None},
}


class Detector:
    def __init__(self, model, cfg, device="cpu", resize=None, input_size=None, fuse=True, jit=False):
        """``fuse``: fold BatchNorms (and use channels-last on CPU); ``jit`` (CPU only): TorchScript freeze +
        oneDNN optimisation (faster, but TorchScript is deprecated)."""
        model = model.eval()
        self.memory_format = torch.contiguous_format
        if jit and torch.device(device).type == "cpu":
            self.model = optimize_for_cpu(model.cpu())
        elif fuse:
            self.model = fuse_bn(model).to(device)
            if torch.device(device).type == "cpu":
                self.memory_format = torch.channels_last
                self.model = self.model.to(memory_format=self.memory_format)
        else:
            self.model = model.to(device)
        self.cfg = cfg
        self.device = device
        self.resize = resize or cfg["test_resize"]
        self.input_size = input_size or cfg["input_size"]
        self.convention = cfg["convention"]

    @torch.no_grad()
    def raw(self, bgr):
        x, meta = preprocess(bgr, self.cfg["input_format"], self.resize, self.input_size)
        out = self.model(torch.from_numpy(x)[None].to(self.device).contiguous(memory_format=self.memory_format))
        return {k: v[0].float().cpu().numpy() for k, v in out.items()}, meta

    def detect(self, bgr, threshold=None, nms=None, top_k=200, use_default_nms=True):
        d = DEFAULTS[self.convention]
        threshold = d["threshold"] if threshold is None else threshold
        if nms is None and use_default_nms:
            nms = d["nms"]
        outs, meta = self.raw(bgr)
        dets = decode(outs, self.convention, meta["input_hw"], threshold, nms, top_k)
        return to_image_coords(dets, meta)


def dets_to_json(dets):
    return [{"box": [float(v) for v in d[:4]], "score": float(d[4]),
             "landmarks": [[float(d[5 + 2 * k]), float(d[6 + 2 * k])] for k in range(5)]} for d in np.asarray(dets)]
