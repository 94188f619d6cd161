"""Tiny iTPN Mask R-CNN, design 2 (C2-C5 -> BN FPN), on the synthetic shapes data (CPU).

``itpn_tiny_cpu.py`` with the neck of ``itpn_pixel_b_fpn_mrcnn_1x.py`` (64-channel FPN).
"""
from detectron2.config import LazyCall as L
from detectron2.modeling.backbone.fpn import LastLevelMaxPool

from .itpn_tiny_cpu import dataloader, lr_multiplier, model, optimizer, train
from itpn import ITPN  # noqa: E402  (the base config puts projects/iTPN on sys.path)
from vitdet_bench.modeling import ViTFPN


trunk = dict(model.backbone)
trunk.pop("_target_")
for k in ("fpn_dim", "fpn_depth", "pyramid_init"):
    trunk.pop(k)
trunk.update(integral_pyramid=False, out_features=("c2", "c3", "c4", "c5"))
model.backbone = L(ViTFPN)(
    bottom_up=L(ITPN)(**trunk),
    in_features=["c2", "c3", "c4", "c5"],
    out_channels=64,
    norm="BN",
    top_block=L(LastLevelMaxPool)(),
    square_pad=0,
)
train.output_dir = "./output/itpn_tiny_fpn_cpu"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
