"""ViT-B Mask R-CNN fine-tuned from supervised ImageNet-1k (DeiT) weights, 100 epochs.

| setting | value | source |
|---------|-------|--------|
| init    | deit_base_patch16_224-b5f2ef4d.pth (classifier head ignored) | facebookresearch/deit |
"""
from .mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

train.init_checkpoint = "pretrained/deit_base_patch16_224-b5f2ef4d.pth"
train.init_format = "supervised"
train.output_dir = "./output/supervised_vitb_mrcnn"
train.vitdet_bench = dict(init="supervised", model_size="B", epochs=100)
