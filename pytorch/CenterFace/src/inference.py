"""``Predictor``: one image in, detections in original-image pixels out; the single inference path of demo.py,
eval.py, export.py's check and the benchmark.

    pred = Predictor.from_checkpoint("centerface_official.pth")
    dets = pred.detect("photo.jpg")        # (N, 15) float32: x1 y1 x2 y2 score lx0 ly0 ... lx4 ly4, by score

Pre-processing (``test_resize``, ``input_size``, ``input_format``), decode (``convention``) and the thresholds
(``score_threshold`` for a demo, ``eval_threshold`` for WIDER evaluation, ``nms``, ``top_k``) come from the
configuration, i.e. from the checkpoint; a caller changes one with ``cfg.replace(...)``. The network is a PyTorch
model (BatchNorms folded, channels-last on CPU; ``jit``: TorchScript-frozen) or an ONNX file run by onnxruntime
(``OnnxRunner``: our export or the released graph, whose four outputs come in the same order).
"""
import numpy as np
import torch

from .config import as_config
from .decode import decode
from .image_io import read_image
from .model import fuse_bn, optimize_for_cpu
from .transforms import preprocess, to_image_coords

OUTPUT_NAMES = ("hm", "wh", "hm_offset", "landmarks")


class TorchRunner:
    """A PyTorch CenterFace as a function of a [1,3,H,W] float32 array -> dict of [C,h,w] arrays."""

    def __init__(self, model, device="cpu", fuse=True, jit=False):
        model = model.eval()
        self.device = torch.device(device)
        self.memory_format = torch.contiguous_format
        if jit and self.device.type == "cpu":
            self.model = optimize_for_cpu(model.cpu())
        elif fuse:
            self.model = fuse_bn(model).to(self.device)
            if self.device.type == "cpu":
                self.memory_format = torch.channels_last
                self.model = self.model.to(memory_format=self.memory_format)
        else:
            self.model = model.to(self.device)

    @torch.no_grad()
    def __call__(self, x):
        t = torch.from_numpy(x).to(self.device).contiguous(memory_format=self.memory_format)
        return {k: v[0].float().cpu().numpy() for k, v in self.model(t).items()}


def onnx_session(model, threads=None, optimize=True):
    """An onnxruntime CPU session of ``model`` (a path or serialized bytes); ``optimize``: full graph optimisation
    (else none: the graph exactly as it is)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


class OnnxRunner:
    """An ONNX CenterFace (export.py's, or the released graph) run by onnxruntime on CPU."""

    def __init__(self, path_or_session):
        self.session = onnx_session(path_or_session) if isinstance(path_or_session, str) else path_or_session
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x):
        outs = self.session.run(None, {self.input_name: x})
        return {k: v[0] for k, v in zip(OUTPUT_NAMES, outs)}


class Predictor:
    def __init__(self, network, cfg=None, device="cpu", purpose="demo", fuse=True, jit=False):
        """``network``: a CenterFace module or a runner (``OnnxRunner``); ``cfg``: its configuration (default: the
        module's); ``purpose``: ``"demo"`` (score_threshold) or ``"eval"`` (eval_threshold)."""
        if purpose not in ("demo", "eval"):
            raise ValueError(f"purpose must be 'demo' or 'eval', not {purpose!r}")
        if isinstance(network, torch.nn.Module):
            cfg = network.cfg if cfg is None else cfg
            network = TorchRunner(network, device, fuse=fuse, jit=jit)
        self.cfg = as_config(cfg)
        self.runner = network
        self.threshold = self.cfg.score_threshold if purpose == "demo" else self.cfg.eval_threshold

    @classmethod
    def from_checkpoint(cls, path, device="cpu", purpose="demo", jit=False, **changes):
        """The checkpoint's model and configuration; ``changes`` replace settings (e.g. ``input_size=256``)."""
        from .checkpoint import load_model
        model, cfg = load_model(path, device)
        return cls(model, cfg.replace(**changes), device, purpose, jit=jit)

    def raw(self, image):
        """The four output maps of one image (dict of [C,h,w] arrays) and the pre-processing's ``meta``."""
        bgr = read_image(image) if isinstance(image, str) else image
        x, meta = preprocess(bgr, self.cfg.input_format, self.cfg.test_resize, self.cfg.input_size)
        return self.runner(x[None]), meta

    def detect(self, image):
        """(N, 15) detections of one image (BGR uint8 array or path) in its pixels, by descending score."""
        outs, meta = self.raw(image)
        dets = decode(outs, self.cfg.convention, meta["input_hw"], self.threshold, self.cfg.nms, self.cfg.top_k)
        return to_image_coords(dets, meta)


def dets_to_json(dets):
    """demo.py's JSON: ``[{"box": [x1, y1, x2, y2], "score": s, "landmarks": [[x, y] x 5]}]``."""
    return [{"box": [float(v) for v in d[:4]], "score": float(d[4]),
             "landmarks": [[float(d[5 + 2 * k]), float(d[6 + 2 * k])] for k in range(5)]} for d in np.asarray(dets)]
