"""iTPN-B (CLIP as supervision) Mask R-CNN 3x: the published 54.1 box / 47.5 mask AP.

Official ``clip_itpn_base_3x_ld090_dp030.py``: ``iTPN_CLIP`` 512, 3/3/24, 8 heads,
``init_values=0.1`` (layer scale; the MLP-only blocks carry only ``gamma_2``), ``rpe=False``,
drop path 0.3, lr 1.5e-4, layer decay 0.9 (``num_layers=30``), 36 epochs, x0.1 at 27 and 33.
"""
from .itpn_pixel_b_mrcnn_3x import dataloader, lr_multiplier, model, optimizer, train

model.backbone.layer_scale_init_value = 0.1
train.init_checkpoint = "pretrained/itpn_clip_base.pth"
train.output_dir = "./output/itpn_clip_b_mrcnn_3x"
train.vitdet_bench = dict(init="itpn_clip", model_size="B", epochs=36)

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
