"""ViT-L Mask R-CNN fine-tuned from supervised ImageNet weights (timm layout), 100 epochs."""
from ._vitl import make_large
from .supervised_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

make_large(model, optimizer)
train.init_checkpoint = "pretrained/vit_large_patch16_224_supervised.pth"
train.output_dir = "./output/supervised_vitl_mrcnn"
train.vitdet_bench = dict(init="supervised", model_size="L", epochs=100)
