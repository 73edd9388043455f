"""The released official ONNX (``centerface.onnx`` = Star-Clouds ``centerface_bnmerged.onnx``): its weights read into
the ``official`` configuration of our model (``convert_official_onnx``, used by tools/convert_official.py), and the
graph itself run by onnxruntime (``ort_session``, the inference reference of the parity tests and the benchmark).

The ONNX graph lists its Conv / ConvTranspose / BatchNormalization nodes in execution order; our modules are
enumerated in the same order (``official_layer_order``) and filled one by one, with a shape check on every tensor.
Folded convolutions (weight + bias) become conv weight + an identity BatchNorm holding the bias
(gamma 1, mean 0, var 1 - eps), so the converted model keeps its BatchNorms and can be fine-tuned.
"""
import os

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .errors import CheckpointError
from .inference import onnx_session
from .model import CenterFace, DeconvBNReLU, InvertedResidual


def official_layer_order(model):
    """[(kind, conv_module, bn_module_or_None)] in the ONNX execution order."""
    order = []
    for layer in model.backbone.features:
        mods = list(layer.conv) if isinstance(layer, InvertedResidual) else list(layer)
        for i, m in enumerate(mods):
            if isinstance(m, torch.nn.Conv2d):
                order.append(("conv", m, mods[i + 1]))
    neck = model.neck
    order.append(("conv", neck.lateral_layers[3].conv, neck.lateral_layers[3].bn))
    for i in (2, 1, 0):
        d = neck.deconv_layers[i]
        assert isinstance(d, DeconvBNReLU)
        order.append(("deconv", d.conv, None))
        order.append(("bn", None, d.bn))
        order.append(("conv", neck.lateral_layers[i].conv, neck.lateral_layers[i].bn))
    h = model.head
    order.append(("conv", h.feat, h.feat_bn))
    for m in (h.pos_conv, h.reg_conv, h.off_conv, h.lm_conv):
        order.append(("conv", m, None))
    return order


def _copy(dst, arr, what):
    t = torch.from_numpy(np.array(arr, dtype=np.float32, copy=True))
    if tuple(dst.shape) != tuple(t.shape):
        raise CheckpointError(f"{what}: ONNX tensor shape {tuple(t.shape)} != model tensor shape {tuple(dst.shape)}")
    with torch.no_grad():
        dst.copy_(t)


def convert_official_onnx(onnx_path):
    """Returns (model, state_dict) of the ``official`` configuration loaded from ``onnx_path``."""
    if not os.path.isfile(onnx_path):
        raise CheckpointError(f"{onnx_path}: file not found")
    try:
        m = onnx.load(onnx_path)
    except Exception as e:  # noqa: BLE001 - any parse failure: not an ONNX model
        first = (str(e).strip().splitlines() or [""])[0]
        raise CheckpointError(f"{onnx_path}: not a readable ONNX model ({e.__class__.__name__}: {first})") from None
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    nodes = [n for n in m.graph.node if n.op_type in ("Conv", "ConvTranspose", "BatchNormalization")]
    model = CenterFace("official")
    order = official_layer_order(model)
    if len(nodes) != len(order):
        raise CheckpointError(f"{onnx_path}: {len(nodes)} Conv/ConvTranspose/BatchNormalization nodes, expected "
                              f"{len(order)} for the official CenterFace graph")
    expect = {"conv": "Conv", "deconv": "ConvTranspose", "bn": "BatchNormalization"}
    for idx, (node, (kind, conv, bn)) in enumerate(zip(nodes, order)):
        what = f"{onnx_path}: node {node.name or idx} ({node.op_type})"
        if node.op_type != expect[kind]:
            raise CheckpointError(f"{what}: expected {expect[kind]} at this position")
        ins = [inits[i] for i in node.input[1:] if i in inits]
        if kind == "conv":
            _copy(conv.weight, ins[0], what + " weight")
            bias = ins[1] if len(ins) > 1 else np.zeros(conv.weight.shape[0], np.float32)
            if bn is None:
                _copy(conv.bias, bias, what + " bias")
            else:  # folded BN: keep an identity BN that carries the bias
                with torch.no_grad():
                    bn.weight.fill_(1.0)
                    bn.running_mean.zero_()
                    bn.running_var.fill_(1.0 - bn.eps)
                _copy(bn.bias, bias, what + " bias")
        elif kind == "deconv":
            _copy(conv.weight, ins[0], what + " weight")
        else:
            eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
            if abs(eps - bn.eps) > 1e-9:
                raise CheckpointError(f"{what}: epsilon {eps} != model BN eps {bn.eps}")
            for dst, arr in zip((bn.weight, bn.bias, bn.running_mean, bn.running_var), ins):
                _copy(dst, arr, what)
    model.eval()
    return model, model.state_dict()


def make_dynamic_onnx(onnx_path):
    """Loads the released ONNX (stored with fixed input [10,3,32,32]), rewrites its dims to [B,3,H,W] and removes
    the initializers from the graph inputs (onnxruntime then treats them as constants, the fair baseline of
    weights/README.md). Returns the serialized model bytes."""
    m = onnx.load(onnx_path)
    init_names = {t.name for t in m.graph.initializer}
    keep = [i for i in m.graph.input if i.name not in init_names]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    for values, names in ((m.graph.input, ["B", None, "H", "W"]), (m.graph.output, ["B", None, "h", "w"])):
        for v in values:
            for d, name in zip(v.type.tensor_type.shape.dim, names):
                if name:
                    d.ClearField("dim_value")
                    d.dim_param = name
    return m.SerializeToString()


INPUT_NAME = "input.1"    # the released graph's input


def ort_session(onnx_path, threads=None, optimize=False):
    """An onnxruntime CPU session of the released graph (dynamic B/H/W; input ``INPUT_NAME``); ``optimize``: full
    graph optimisation (the benchmark), else none (the parity tests compare the graph as it is)."""
    return onnx_session(make_dynamic_onnx(onnx_path), threads, optimize)
