"""Positional information ablation, MAE init, row "abs: rand, rel: zero".

Li et al. 2021, the positional-information table (ViT-B; absolute position embedding x
relative position biases, each pre-trained / random / zero / absent).
  abs: random (trunc-normal 0.02), not transferred
  rel: zero-initialized, learned
How: ``train.init_keep`` keeps the ViT's fresh random ``pos_embed`` instead of MAE's.
Where the row and its published figure come from: docs/provenance.md.
"""
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

vit = model.backbone.bottom_up.net
train.init_keep = ["^pos_embed$"]  # these keep the model's own init

train.output_dir = "./output/ablations/pos_mae_abs_rand_rel_zero"
train.vitdet_bench.ablation = "positions/mae/abs_rand_rel_zero"
