"""Detect: the test-time layer of S3FD (decode, score threshold, greedy NMS, top-k).

For every image and every foreground class: decode all priors (float32), keep those with score
``> CONF_THRESH`` (0.05) in prior order, run ``nms`` at ``NMS_THRESH`` (0.3) on the ``NMS_TOP_K`` (5000) highest,
and write the first ``TOP_K`` (750) kept boxes as rows ``(score, x1, y1, x2, y2)`` (normalised coordinates) of
``output[B, num_classes, TOP_K, 5]``; class 0 and unused rows stay zero.

Unlike the reference, an image without any candidate gives an all-zero block instead of an exception.
"""
import torch

from ..bbox_utils import decode, nms


class Detect:
    def __init__(self, cfg):
        self.num_classes = cfg.NUM_CLASSES
        self.top_k = cfg.TOP_K
        self.nms_thresh = cfg.NMS_THRESH
        self.conf_thresh = cfg.CONF_THRESH
        self.variance = cfg.VARIANCE
        self.nms_top_k = cfg.NMS_TOP_K

    def image(self, boxes, scores):
        """One image, one class: ``boxes`` [P, 4] decoded, ``scores`` [P]. Returns the [n, 5] rows (n <= TOP_K)."""
        mask = scores.gt(self.conf_thresh)
        scores = scores[mask]
        if scores.numel() == 0:
            return scores.new_zeros((0, 5))
        boxes = boxes[mask]
        ids, count = nms(boxes, scores, self.nms_thresh, self.nms_top_k, max_keep=self.top_k)
        ids = ids[:min(count, self.top_k)].to(boxes.device)
        return torch.cat((scores[ids].unsqueeze(1), boxes[ids]), 1)

    def forward(self, loc_data, conf_data, prior_data):
        """``loc_data`` [B, P, 4], ``conf_data`` [B, P, C] (softmax scores), ``prior_data`` [P, 4]."""
        num = loc_data.size(0)
        loc_data, conf_data, prior_data = loc_data.float(), conf_data.float(), prior_data.float()
        output = torch.zeros(num, self.num_classes, self.top_k, 5, device=loc_data.device)
        for i in range(num):
            boxes = decode(loc_data[i], prior_data, self.variance)
            for cl in range(1, self.num_classes):
                rows = self.image(boxes, conf_data[i, :, cl].clone())
                output[i, cl, :rows.size(0)] = rows
        return output

    __call__ = forward
