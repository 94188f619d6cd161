"""FPN input ablation, row "multi-scale adaptor fed by blocks d/4, d/2, 3d/4, d" (the default).

Li et al. 2021, the single-scale vs multi-scale table (ViT-B, MAE init). Identical to the
flagship (configs/mae_vitb_mrcnn.py); here so that the table's rows are all files.
Where the row and its published figure come from: docs/provenance.md.
"""
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

train.output_dir = "./output/ablations/fpn_multiscale_d4_d2_3d4_d"
train.vitdet_bench.ablation = "fpn_input/multiscale_d4_d2_3d4_d"
