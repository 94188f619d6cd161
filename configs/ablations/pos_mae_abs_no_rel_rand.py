"""Positional information ablation, MAE init, row "abs: no, rel: rand".

Li et al. 2021, the positional-information table (ViT-B; absolute position embedding x
relative position biases, each pre-trained / random / zero / absent).
  abs: none (use_abs_pos=False)
  rel: random (trunc-normal 0.02), learned
How: ``rel_pos_init='random'`` + ``train.init_keep`` keeps the random tables (the loader's
paper rule would zero them).
Where the row and its published figure come from: docs/provenance.md.
"""
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

vit = model.backbone.bottom_up.net
vit.use_abs_pos = False
vit.rel_pos_init = "random"
train.init_keep = ["relative_position_bias_table$"]  # these keep the model's own init

train.output_dir = "./output/ablations/pos_mae_abs_no_rel_rand"
train.vitdet_bench.ablation = "positions/mae/abs_no_rel_rand"
