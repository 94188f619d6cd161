"""Positional information ablation, BEiT init, row "abs: rand, rel: pt" (the recipe's default).

Li et al. 2021, the positional-information table (ViT-B; absolute position embedding x
relative position biases, each pre-trained / random / zero / absent).
  abs: random (trunc-normal 0.02), not transferred
  rel: pre-trained (BEiT's table, transferred)
Where the row and its published figure come from: docs/provenance.md.
"""
from ..beit_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

train.output_dir = "./output/ablations/pos_beit_abs_rand_rel_pt"
train.vitdet_bench.ablation = "positions/beit/abs_rand_rel_pt"
