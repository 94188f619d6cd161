"""FPN input ablation, row "all four adaptor modules fed by the last block" (single-scale
input).

Li et al. 2021, the single-scale vs multi-scale table (ViT-B, MAE init): the multi-scale
adaptor's 4x / 2x / 1x / 0.5x modules and the FPN stay, but all read block d (11) instead of
blocks d/4, d/2, 3d/4, d.
Where the row and its published figure come from: docs/provenance.md.
"""
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.in_features = ["block11", "block11", "block11", "block11"]

train.output_dir = "./output/ablations/fpn_last_block_x4"
train.vitdet_bench.ablation = "fpn_input/last_block_x4"
