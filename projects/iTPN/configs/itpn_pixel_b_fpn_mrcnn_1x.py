"""iTPN-B (pixel) Mask R-CNN 1x, design 2: the benchmark protocol (conventional pipeline).

The trunk's C2/C3/C4 (+ C5 = 2x2 max pool of C4) feed the project's BN FPN (P6 by max
pool), as for the plain ViT and ConvMAE; the pre-trained pyramid is not used (its keys are
reported as ignored by rule). Everything else (heads, GIoU loss, data, recipe) is the 1x
integral config's, so the two configs differ only in the neck: the paper's Figure 1, left
vs right, as one comparison. Layer decay ids are the same; the FPN trains at full lr.
"""
from detectron2.config import LazyCall as L
from detectron2.modeling.backbone.fpn import LastLevelMaxPool

from .itpn_pixel_b_mrcnn_1x import dataloader, lr_multiplier, model, optimizer, train
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
    out_channels=256,
    norm="BN",
    top_block=L(LastLevelMaxPool)(),
    square_pad=0,  # pad to a multiple of 32 only, as the integral design
)
train.output_dir = "./output/itpn_pixel_b_fpn_mrcnn_1x"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
