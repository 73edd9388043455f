"""WIDER FACE evaluation with the official protocol.

>>> from widerface_eval import write_prediction, evaluate
>>> write_prediction("preds", "0--Parade/0_Parade_marchingband_1_465.jpg", dets)   # (N,5) x1 y1 x2 y2 score
>>> res = evaluate("preds", "ground_truth")
>>> res.aps                                                   # {"easy": ..., "medium": ..., "hard": ...}
"""

from .evaluation import (MissingPredictionsWarning, WiderEvalResult, bbox_overlaps, collect_predictions, evaluate,
                         evaluate_predictions, image_match, image_pr, match_predictions, thresholds, voc_ap)
from .io import (ATTRIBUTE_NAMES, GT_FILES, SETTINGS, GroundTruth, NoMatchingPredictionsError, PredictionFolder,
                 SplitEntry, WiderFormatError, format_prediction, load_ground_truth, parse_prediction_text,
                 prediction_path, read_prediction, read_prediction_dir, read_split_file, write_ground_truth,
                 write_prediction, write_split_file)
from .plot import plot_pr_curves, write_json

__version__ = "1.0.0"

__all__ = [
    "ATTRIBUTE_NAMES", "GT_FILES", "SETTINGS", "GroundTruth", "MissingPredictionsWarning",
    "NoMatchingPredictionsError", "PredictionFolder", "SplitEntry", "WiderEvalResult", "WiderFormatError",
    "bbox_overlaps", "collect_predictions", "evaluate", "evaluate_predictions", "format_prediction",
    "image_match", "image_pr", "load_ground_truth", "match_predictions", "parse_prediction_text",
    "plot_pr_curves", "prediction_path", "read_prediction", "read_prediction_dir", "read_split_file", "thresholds",
    "voc_ap", "write_json", "write_ground_truth", "write_prediction", "write_split_file",
]
