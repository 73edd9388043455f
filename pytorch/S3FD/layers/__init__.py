"""S3FD's building blocks, with the reference's module names: box utilities, PriorBox, Detect, L2Norm, the loss."""
from .bbox_utils import decode, encode, jaccard, match, nms, point_form
from .functions import Detect, PriorBox, feature_map_sizes, num_priors
from .modules import L2Norm, MultiBoxLoss

__all__ = ["decode", "encode", "jaccard", "match", "nms", "point_form", "Detect", "PriorBox", "feature_map_sizes",
           "num_priors", "L2Norm", "MultiBoxLoss"]
