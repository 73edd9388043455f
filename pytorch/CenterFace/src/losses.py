"""CenterFace losses (trains/multi_pose.py + models/losses.py of the reference).

L = 1·focal(hm) + 0.1·smoothL1(wh) + 1·smoothL1(offset) + 0.1·L1(landmarks) (the weights are the config's).
The heatmap is clamped to [1e-4, 1 − 1e-4] before the logs (CenterNet's _sigmoid; the reference feeds the raw
Sigmoid output, which gives log(0) = −inf and NaN losses, issue #27).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

HM_EPS = 1e-4


def focal_loss(pred, gt, alpha=2, beta=4):
    """CornerNet focal loss, summed and divided by the number of positives (gt == 1)."""
    pred = pred.float().clamp(HM_EPS, 1 - HM_EPS)
    gt = gt.float()
    pos = gt.eq(1).float()
    neg = gt.lt(1).float()
    pos_loss = (torch.log(pred) * torch.pow(1 - pred, alpha) * pos).sum()
    neg_loss = (torch.log(1 - pred) * torch.pow(pred, alpha) * torch.pow(1 - gt, beta) * neg).sum()
    num_pos = pos.sum()
    if num_pos == 0:
        return -neg_loss
    return -(pos_loss + neg_loss) / num_pos


def gather_feat(fmap, ind):
    """fmap [B,C,H,W], ind [B,K] -> [B,K,C]."""
    b, c = fmap.shape[:2]
    f = fmap.view(b, c, -1).permute(0, 2, 1)
    return f.gather(1, ind.unsqueeze(2).expand(-1, -1, c))


def reg_sl1_loss(pred, mask, ind, target):
    """Smooth-L1 at the object centres, divided by (#objects + 1e-4)."""
    p = gather_feat(pred, ind).float()
    m = mask.float().unsqueeze(2).expand_as(p)
    loss = F.smooth_l1_loss(p * m, target * m, reduction="sum")
    return loss / (mask.float().sum() + 1e-4)


def reg_weighted_l1_loss(pred, mask, ind, target):
    """L1 with a per-coordinate mask, divided by (#valid coordinates + 1e-4)."""
    p = gather_feat(pred, ind).float()
    loss = F.l1_loss(p * mask, target * mask, reduction="sum")
    return loss / (mask.sum() + 1e-4)


class CenterFaceLoss(nn.Module):
    def __init__(self, weights):
        """``weights``: {"hm", "wh", "off", "lm"} (``Config.loss_weights()``)."""
        super().__init__()
        self.w = dict(weights)

    def forward(self, out, batch):
        hm = focal_loss(out["hm"], batch["hm"])
        wh = reg_sl1_loss(out["wh"], batch["reg_mask"], batch["ind"], batch["wh"])
        off = reg_sl1_loss(out["hm_offset"], batch["reg_mask"], batch["ind"], batch["reg"])
        lm = reg_weighted_l1_loss(out["landmarks"], batch["lm_mask"], batch["ind"], batch["landmarks"])
        loss = self.w["hm"] * hm + self.w["wh"] * wh + self.w["off"] * off + self.w["lm"] * lm
        return loss, {"loss": loss.detach(), "hm_loss": hm.detach(), "wh_loss": wh.detach(),
                      "off_loss": off.detach(), "lm_loss": lm.detach()}
