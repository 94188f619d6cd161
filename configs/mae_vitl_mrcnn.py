"""ViT-L Mask R-CNN fine-tuned from MAE, 100 epochs (same recipe as mae_vitb_mrcnn.py but:)

| setting    | value | source                              |
|------------|-------|-------------------------------------|
| backbone   | ViT-L/16, global blocks 5/11/17/23 | paper sec. 3.1          |
| drop path  | 0.4   | detectron2 projects/ViTDet (ViT-L)  |
| layer decay| 0.8   | detectron2 projects/ViTDet (ViT-L)  |
| init       | mae_pretrain_vit_large.pth | facebookresearch/mae        |
"""
from ._vitl import make_large
from .mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

make_large(model, optimizer)
train.init_checkpoint = "pretrained/mae_pretrain_vit_large.pth"
train.output_dir = "./output/mae_vitl_mrcnn"
train.vitdet_bench = dict(init="mae", model_size="L", epochs=100)
