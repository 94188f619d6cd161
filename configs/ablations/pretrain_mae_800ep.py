"""Pre-training length ablation, MAE ViT-B pre-trained for 800 epochs.

Li et al. 2021, the pre-training epochs figure (box AP after fine-tuning vs pre-training
length). The only change is the checkpoint: the file is the user's (public releases exist
only for some lengths); its name here is a placeholder to override with
``train.init_checkpoint=...``. The lengths follow the MAE/BEiT papers' schedules.
Where the row and its published figure come from: docs/provenance.md.
"""
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

train.init_checkpoint = "pretrained/mae_pretrain_vit_base_800ep.pth"
train.output_dir = "./output/ablations/pretrain_mae_800ep"
train.vitdet_bench.ablation = "pretrain_length/mae/800ep"
