"""ConvMAE-B Mask R-CNN, design 1, 25 epochs: the released 53.2 box / 47.1 mask AP model.

Alpha-VL DET ``convmae_base_mask_rcnn_FPN_25ep.py``: max_iter // 4 of the 100 ep
config, warm-up fraction x 4 (the same 461 iterations).
"""
from .convmae_b_mrcnn_100ep import dataloader, lr_multiplier, model, optimizer, train

train.epochs = 25
train.max_iter = 368750 // 4
lr_multiplier.warmup_length = 0.125 / 100 * 4
train.output_dir = "./output/convmae_b_mrcnn_25ep"
train.vitdet_bench = dict(init="convmae", model_size="B", epochs=25)

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
