"""Faster R-CNN network: ResNet / Inception-ResNet-v2 backbone, FPN, RPN, proposals, RoIAlign, RCNN head.

Parameter names are the reference's (``mindspore-ai/models`` ``official/cv/FasterRCNN``), so that a checkpoint
written by the official code loads as it is.
"""
from .faster_rcnn import Faster_Rcnn, FasterRcnn_Infer

__all__ = ["Faster_Rcnn", "FasterRcnn_Infer"]
