"""Normalization layers and the single-device / multi-process BatchNorm switch."""
from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["LayerNorm2d", "get_norm", "channel_norm", "convert_batchnorm_for_world"]


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of an ``(N, C, H, W)`` map (ViTDet's "LN")."""

    def __init__(self, num_channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def get_norm(norm, out_channels: int):
    """detectron2's ``get_norm`` plus ``"LN"`` (channels-first LayerNorm), on every version."""
    if norm == "LN":
        return LayerNorm2d(out_channels)
    from detectron2.layers import get_norm as d2_get_norm

    return d2_get_norm(norm, out_channels)


def channel_norm(norm: str):
    """``norm`` as a ``channels -> module`` callable for detectron2 heads' ``conv_norm``.

    ``conv_norm="LN"`` (ViTDet's heads) is unknown to detectron2 0.6's ``get_norm``;
    ``conv_norm=L(channel_norm)(norm="LN")`` builds the same LayerNorm on every version
    and keeps the config serializable.
    """
    get_norm(norm, 1)  # fail at instantiation on an unknown name
    return partial(get_norm, norm)


def convert_batchnorm_for_world(module: nn.Module, world_size: int, device: str) -> nn.Module:
    """BatchNorm where one process trains; synchronized BatchNorm where several do.

    The paper trains with SyncBN on many GPUs. Configs here say plain ``BN`` so the
    same file runs on one GPU or a CPU (upstream ViTDet configs hard-code SyncBN,
    which fails there); the trainer calls this once the world size is known.
    Multi-GPU: ``nn.SyncBatchNorm``. Multi-process CPU (gloo): detectron2's
    ``NaiveSyncBatchNorm``, whose all-reduce works on any backend.
    """
    if world_size <= 1:
        return module
    if device.startswith("cuda"):
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    from detectron2.layers import NaiveSyncBatchNorm

    def convert(m: nn.Module) -> nn.Module:
        if isinstance(m, nn.BatchNorm2d) and not isinstance(m, NaiveSyncBatchNorm):
            new = NaiveSyncBatchNorm(m.num_features, eps=m.eps, momentum=m.momentum,
                                     affine=m.affine, track_running_stats=m.track_running_stats)
            new.load_state_dict(m.state_dict())
            return new
        for name, child in m.named_children():
            new_child = convert(child)
            if new_child is not child:
                setattr(m, name, new_child)
        return m

    return convert(module)
