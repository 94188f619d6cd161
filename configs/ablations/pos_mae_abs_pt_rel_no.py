"""Positional information ablation, MAE init, row "abs: pt, rel: no".

Li et al. 2021, the positional-information table (ViT-B; absolute position embedding x
relative position biases, each pre-trained / random / zero / absent).
  abs: pre-trained (transferred, interpolated)
  rel: none (rel_pos=None)
Where the row and its published figure come from: docs/provenance.md.
"""
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

vit = model.backbone.bottom_up.net
vit.rel_pos = None

train.output_dir = "./output/ablations/pos_mae_abs_pt_rel_no"
train.vitdet_bench.ablation = "positions/mae/abs_pt_rel_no"
