"""ViT-B Mask R-CNN fine-tuned from MAE, 100 epochs: the flagship recipe.

"Benchmarking Detection Transfer Learning with Vision Transformers" (Li et al.
2021). Each value below names its source (all sources: docs/provenance.md).

| setting              | value                         | source                                  |
|----------------------|-------------------------------|-----------------------------------------|
| input / augmentation | 1024, LSJ scale 0.1-2.0, flip | paper sec. 3.3; ViTDet coco_loader_lsj  |
| backbone             | ViT-B/16, 14x14 windows, blocks 2/5/8/11 global | paper sec. 3.1   |
| positions            | abs (interpolated) + shared rel-pos tables (zero init) | paper sec. 3.1/4 |
| neck / heads         | multi-scale adaptor, BN FPN, 2-conv RPN, 4conv1fc BN box head, BN mask head | paper sec. 3.2 |
| batch                | 64 images                     | paper sec. 3.3                          |
| optimizer            | AdamW (0.9, 0.999), wd 0.1    | paper sec. 3.3                          |
| lr                   | 1e-4                          | detectron2 projects/ViTDet (ViT-B)      |
| layer-wise lr decay  | 0.7 (ViT-B)                   | detectron2 projects/ViTDet (ViT-B)      |
| drop path            | 0.1 (ViT-B)                   | detectron2 projects/ViTDet (ViT-B)      |
| schedule             | 100 epochs; 250-iter warm-up; x0.1 at 88.9% and 96.3% | ViTDet (184375 iters = 100 ep at batch 64) |
| AMP                  | on (GPU)                      | paper sec. 3.3                          |
| init                 | MAE ViT-B (mae_pretrain_vit_base.pth) | facebookresearch/mae           |

Expected on COCO val2017 at 100 epochs: hustvl/MIMDet's re-implementation of this
paper reports 50.4 box / 44.9 mask AP.
"""
from .common.coco_lsj import dataloader
from .common.mask_rcnn_vit import model
from .common.recipe import lr_multiplier, optimizer, train

vit = model.backbone.bottom_up.net
vit.embed_dim, vit.depth, vit.num_heads = 768, 12, 12
vit.drop_path_rate = 0.1
vit.attention_strategy = "window_global"
vit.use_abs_pos = True          # transferred from the checkpoint, interpolated 14x14 -> 64x64
vit.rel_pos = "shared"
vit.rel_pos_init = "zero"       # MAE has no relative positions
vit.layer_scale_init_value = 0.0
model.backbone.bottom_up.in_features = ["block2", "block5", "block8", "block11"]

dataloader.train.total_batch_size = 64

optimizer.lr = 1e-4
optimizer.weight_decay = 0.1
optimizer.params.layer_decay = 0.7
optimizer.params.num_layers = 12

train.epochs = 100
train.warmup_iters = 250
train.init_checkpoint = "pretrained/mae_pretrain_vit_base.pth"
train.init_format = "mae"
train.output_dir = "./output/mae_vitb_mrcnn"
train.vitdet_bench = dict(init="mae", model_size="B", epochs=100)
