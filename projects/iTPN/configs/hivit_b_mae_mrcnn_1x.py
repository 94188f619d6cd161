"""HiViT-B (MAE pre-training) Mask R-CNN 1x: the paper's baseline, published 49.5 box / 43.8 mask AP.

HiViT-B is iTPN's trunk at 2/2/20 blocks (C 512, 8 heads) without a pre-trained pyramid,
so it runs in design 2 (C2-C5 -> BN FPN). The iTPN repository ships no HiViT detection
config; this one uses the iTPN-B pixel 1x recipe with layer decay over HiViT's 24 non-merge
blocks. The checkpoint is expected in the iTPN key layout (HiViT's MAE code, from which
iTPN's ``models_itpn`` derives, names the trunk the same way); not checked against a file.
"""
from .itpn_pixel_b_fpn_mrcnn_1x import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.mlp_depths = (2, 2)
model.backbone.bottom_up.depth = 20
optimizer.params.num_layers = 24
train.init_checkpoint = "pretrained/hivit_base_mae.pth"
train.output_dir = "./output/hivit_b_mae_mrcnn_1x"
train.vitdet_bench = dict(init="hivit_mae", model_size="B", epochs=12)

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
