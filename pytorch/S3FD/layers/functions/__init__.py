from .detection import Detect
from .prior_box import PriorBox, feature_map_sizes, num_priors

__all__ = ["Detect", "PriorBox", "feature_map_sizes", "num_priors"]
