"""L2Norm: ``x / (||x||_2 over channels + 1e-10) * weight``, one learnable weight per channel.

S3FD puts it on conv3_3, conv4_3 and conv5_3 (initial weights 10, 8 and 5, ``cfg.L2NORM_SCALES``): those layers'
activations are much larger than the deeper ones', and the normalisation lets the three heads learn at the same pace.
"""
import torch
import torch.nn as nn


class L2Norm(nn.Module):
    def __init__(self, n_channels, scale):
        super().__init__()
        self.n_channels = n_channels
        self.gamma = float(scale)
        self.eps = 1e-10
        self.weight = nn.Parameter(torch.empty(n_channels))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.constant_(self.weight, self.gamma)

    def forward(self, x):
        norm = x.pow(2).sum(dim=1, keepdim=True).sqrt() + self.eps
        return self.weight.view(1, -1, 1, 1) * torch.div(x, norm)
