"""ConvMAE-B Mask R-CNN, design 1, 50 epochs (Alpha-VL DET ``..._FPN_50ep.py``: max_iter // 2,
warm-up fraction x 2, i.e. the same 461 warm-up iterations)."""
from .convmae_b_mrcnn_100ep import dataloader, lr_multiplier, model, optimizer, train

train.epochs = 50
train.max_iter = 368750 // 2
lr_multiplier.warmup_length = 0.125 / 100 * 2
train.output_dir = "./output/convmae_b_mrcnn_50ep"
train.vitdet_bench = dict(init="convmae", model_size="B", epochs=50)

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
