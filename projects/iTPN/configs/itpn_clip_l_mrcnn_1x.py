"""iTPN-L (CLIP as supervision) Mask R-CNN 1x: the published 55.2 box / 48.2 mask AP.

Official ``clip_itpn_large_1x_ld095_dp020.py``: ``iTPN_CLIP`` 768, MLP blocks 2/2, 40
global blocks, 12 heads, ``init_values=0.1``, ``rpe=True`` (ViTDet decomposed relative
positions, 2 x 14 - 1 = 27 entries per axis, interpolated to the grid), drop path 0.2,
AdamW lr 2e-4, layer decay 0.95 over ``num_layers=44``, 12 epochs, x0.1 at 9 and 11.
"""
from .itpn_pixel_b_mrcnn_1x import dataloader, lr_multiplier, model, optimizer, train

model.backbone.embed_dim = 768
model.backbone.mlp_depths = (2, 2)
model.backbone.depth = 40
model.backbone.num_heads = 12
model.backbone.layer_scale_init_value = 0.1
model.backbone.rel_pos = True
model.backbone.drop_path_rate = 0.2
optimizer.params.layer_decay = 0.95
optimizer.params.num_layers = 44
train.init_checkpoint = "pretrained/itpn_clip_large.pth"
train.output_dir = "./output/itpn_clip_l_mrcnn_1x"
train.vitdet_bench = dict(init="itpn_clip", model_size="L", epochs=12)

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
