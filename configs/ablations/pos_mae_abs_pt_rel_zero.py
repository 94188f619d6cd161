"""Positional information ablation, MAE init, row "abs: pt, rel: zero" (the recipe's default).

Li et al. 2021, the positional-information table (ViT-B; absolute position embedding x
relative position biases, each pre-trained / random / zero / absent).
  abs: pre-trained (transferred, interpolated)
  rel: zero-initialized, learned
Where the row and its published figure come from: docs/provenance.md.
"""
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

train.output_dir = "./output/ablations/pos_mae_abs_pt_rel_zero"
train.vitdet_bench.ablation = "positions/mae/abs_pt_rel_zero"
