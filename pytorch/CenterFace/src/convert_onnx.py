"""Converts the official BN-merged ``centerface.onnx`` into a state dict of the ``official`` configuration.

The ONNX graph lists its Conv / ConvTranspose / BatchNormalization nodes in execution order; our modules are
enumerated in the same order (``official_layer_order``) and filled one by one, with a shape check on every tensor.
Folded convolutions (weight + bias) become conv weight + an identity BatchNorm holding the bias
(gamma 1, mean 0, var 1 - eps), so the converted model keeps its BatchNorms and can be fine-tuned.
"""
import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .model import CenterFace, DeconvBNReLU, InvertedResidual


class ConversionError(Exception):
    pass


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
        raise ConversionError(f"{what}: ONNX tensor shape {tuple(t.shape)} != model tensor shape {tuple(dst.shape)}")
    with torch.no_grad():
        dst.copy_(t)


def convert_official_onnx(onnx_path):
    """Returns (model, state_dict) of the ``official`` configuration loaded from ``onnx_path``."""
    try:
        m = onnx.load(onnx_path)
    except Exception as e:  # noqa: BLE001
        raise ConversionError(f"{onnx_path}: not a readable ONNX model ({e.__class__.__name__}: {e})") from None
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    nodes = [n for n in m.graph.node if n.op_type in ("Conv", "ConvTranspose", "BatchNormalization")]
    model = CenterFace("official")
    order = official_layer_order(model)
    if len(nodes) != len(order):
        raise ConversionError(f"{onnx_path}: {len(nodes)} Conv/ConvTranspose/BatchNormalization nodes, expected "
                              f"{len(order)} for the official CenterFace graph")
    expect = {"conv": "Conv", "deconv": "ConvTranspose", "bn": "BatchNormalization"}
    for idx, (node, (kind, conv, bn)) in enumerate(zip(nodes, order)):
        what = f"{onnx_path}: node {node.name or idx} ({node.op_type})"
        if node.op_type != expect[kind]:
            raise ConversionError(f"{what}: expected {expect[kind]} at this position")
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
                raise ConversionError(f"{what}: epsilon {eps} != model BN eps {bn.eps}")
            for dst, arr in zip((bn.weight, bn.bias, bn.running_mean, bn.running_var), ins):
                _copy(dst, arr, what)
    model.eval()
    return model, model.state_dict()


def make_dynamic_onnx(onnx_path, drop_initializer_inputs=True):
    """Loads the released ONNX (stored with fixed input [10,3,32,32]) and rewrites its dims to [B,3,H,W];
    optionally removes the initializers from the graph inputs (onnxruntime then treats them as constants).
    Returns the serialized model bytes."""
    m = onnx.load(onnx_path)
    init_names = {t.name for t in m.graph.initializer}
    if drop_initializer_inputs:
        keep = [i for i in m.graph.input if i.name not in init_names]
        del m.graph.input[:]
        m.graph.input.extend(keep)
    for i in m.graph.input:
        if i.name in init_names:
            continue
        dims = i.type.tensor_type.shape.dim
        for d, name in zip(dims, ["B", None, "H", "W"]):
            if name:
                d.ClearField("dim_value")
                d.dim_param = name
    for o in m.graph.output:
        dims = o.type.tensor_type.shape.dim
        for d, name in zip(dims, ["B", None, "h", "w"]):
            if name:
                d.ClearField("dim_value")
                d.dim_param = name
    return m.SerializeToString()


def ort_session(onnx_path, drop_initializer_inputs=True, threads=None, optimize=False):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(make_dynamic_onnx(onnx_path, drop_initializer_inputs), so,
                                providers=["CPUExecutionProvider"])
