"""Positional information ablation, BEiT init, row "abs: rand, rel: no".

Li et al. 2021, the positional-information table (ViT-B; absolute position embedding x
relative position biases, each pre-trained / random / zero / absent).
  abs: random (trunc-normal 0.02), not transferred
  rel: none (rel_pos=None)
Where the row and its published figure come from: docs/provenance.md.
"""
from ..beit_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

vit = model.backbone.bottom_up.net
vit.rel_pos = None

train.output_dir = "./output/ablations/pos_beit_abs_rand_rel_no"
train.vitdet_bench.ablation = "positions/beit/abs_rand_rel_no"
