"""Positional information ablation, BEiT init, row "abs: rand, rel: zero".

Li et al. 2021, the positional-information table (ViT-B; absolute position embedding x
relative position biases, each pre-trained / random / zero / absent).
  abs: random (trunc-normal 0.02), not transferred
  rel: zero-initialized, learned
How: ``train.init_keep`` keeps the zero tables instead of BEiT's.
Where the row and its published figure come from: docs/provenance.md.
"""
from ..beit_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

vit = model.backbone.bottom_up.net
train.init_keep = ["relative_position_bias_table$"]  # these keep the model's own init

train.output_dir = "./output/ablations/pos_beit_abs_rand_rel_zero"
train.vitdet_bench.ablation = "positions/beit/abs_rand_rel_zero"
