"""ViT-L Mask R-CNN fine-tuned from MoCo v3, 100 epochs."""
from ._vitl import make_large
from .mocov3_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

make_large(model, optimizer)
train.init_checkpoint = "pretrained/vit-l-300ep.pth.tar"
train.output_dir = "./output/mocov3_vitl_mrcnn"
train.vitdet_bench = dict(init="mocov3", model_size="L", epochs=100)
