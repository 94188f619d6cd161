"""ViT-L Mask R-CNN from random initialization, 400 epochs (see random_vitb_mrcnn.py)."""
from ._vitl import make_large
from .random_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

make_large(model, optimizer, layer_decay=1.0)
train.output_dir = "./output/random_vitl_mrcnn"
train.vitdet_bench = dict(init="random", model_size="L", epochs=400)
