"""ViT-B Mask R-CNN fine-tuned from MoCo v3, 100 epochs.

MoCo v3's checkpoint carries a fixed 2-D sin-cos absolute embedding; it is
transferred and interpolated like MAE's; relative tables start at zero.

| setting | value | source |
|---------|-------|--------|
| init    | vit-b-300ep.pth.tar (module.base_encoder.*) | facebookresearch/moco-v3 |
"""
from .mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

train.init_checkpoint = "pretrained/vit-b-300ep.pth.tar"
train.init_format = "mocov3"
train.output_dir = "./output/mocov3_vitb_mrcnn"
train.vitdet_bench = dict(init="mocov3", model_size="B", epochs=100)
