"""iTPN-B (pixel) Mask R-CNN 1x, design 2: the benchmark protocol (conventional pipeline).

The trunk's C2/C3/C4 (+ C5 = 2x2 max pool of C4) feed the project's BN FPN (P6 by max
pool), as for the plain ViT and ConvMAE; the pre-trained pyramid is not used (its keys are
reported as ignored by rule). Everything else (heads, GIoU loss, data, recipe) is the 1x
integral config's, so the two configs differ only in the neck: the paper's Figure 1, left
vs right, as one comparison. Layer decay ids are the same; the FPN trains at full lr.
"""

from .itpn_pixel_b_mrcnn_1x import dataloader, lr_multiplier, model, optimizer, train
from itpn import bn_fpn_design  # the itpn package: projects/iTPN/itpn (setup.py)

model.backbone = bn_fpn_design(model.backbone, out_channels=256)
train.output_dir = "./output/itpn_pixel_b_fpn_mrcnn_1x"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
