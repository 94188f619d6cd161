"""ViTDet, ViT-B Mask R-CNN from MAE, 100 epochs: detectron2 ``projects/ViTDet`` as published.

Reproduces ``projects/ViTDet/configs/COCO/mask_rcnn_vitdet_b_100ep.py`` (with
``common/models/mask_rcnn_vitdet.py``, ``common/coco_loader_lsj.py``,
``common/optim.py`` AdamW, ``common/train.py``). The Benchmarking recipe of the
same backbone is ``configs/mae_vitb_mrcnn.py``; docs/vitdet.md sets them side by side.

| setting          | value                                                   | upstream source                  |
|------------------|---------------------------------------------------------|----------------------------------|
| backbone         | ViT-B/16, 14x14 windows, blocks 2/5/8/11 global, drop path 0.1 | common/models/mask_rcnn_vitdet.py |
| positions        | decomposed rel pos per block (zero init); abs pos at the 224 grid (+ cls slot), bicubic to 64x64 each forward | ViT(use_rel_pos=True, pretrain_img_size=224) |
| neck / heads     | simple feature pyramid (LN), P6 max pool, 2-conv RPN, 4conv1fc LN box head, LN mask head | mask_rcnn_vitdet.py |
| data             | LSJ 1024, scale 0.1-2.0, flip, crops not padded by the mapper; batch 64 | coco_loader_lsj.py      |
| optimizer        | AdamW (0.9, 0.999), lr 1e-4, wd 0.1; wd 0 on pos_embed and torch norms; biases, rel pos and channel LN decayed | optim.py AdamW + config overrides |
| layer decay      | 0.7 over 12 blocks                                      | get_vit_lr_decay_rate            |
| schedule         | 184375 iters; x0.1 at 163889 and 177546; 250-iter linear warm-up from 0.001 | this config   |
| precision        | AMP, fp16 gradient compression (GPU)                    | this config                      |
| init             | mae_pretrain_vit_base.pth                               | this config                      |

Published (projects/ViTDet README, 64 A100): 51.6 box / 45.9 mask AP on COCO val2017;
released detector ``model_final_61ccd1.pkl`` (model id 325346929), which
``--eval-only train.init_checkpoint=model_final_61ccd1.pkl`` evaluates with this config.
"""
from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import MultiStepParamScheduler

from ..common.coco_lsj import dataloader
from ..common.mask_rcnn_vitdet import model
from ..common.recipe import optimizer, train

dataloader.train.total_batch_size = 64
# FixedSizeCrop(pad=False): small crops stay small and the model pads them after
# normalization (square_pad=1024), not the mapper with pixel 128
dataloader.train.mapper.pad = False

# Schedule: 100 ep = 184375 iters * 64 images/iter / 118000 images/ep
train.epochs = None
train.max_iter = 184375
train.warmup_iters = 250
lr_multiplier = L(WarmupParamScheduler)(
    scheduler=L(MultiStepParamScheduler)(
        values=[1.0, 0.1, 0.01],
        milestones=[163889, 177546],
        num_updates=train.max_iter,
    ),
    warmup_length=250 / train.max_iter,
    warmup_factor=0.001,
)

# Optimizer: detectron2's AdamW with layer-wise lr decay; only pos_embed and torch.nn
# norms (the ViT's LayerNorms) go without weight decay, as get_default_optimizer_params
# with weight_decay_norm=0 and overrides={"pos_embed": {"weight_decay": 0}} does.
optimizer.lr = 1e-4
optimizer.betas = (0.9, 0.999)
optimizer.weight_decay = 0.1
optimizer.params.layer_decay = 0.7
optimizer.params.num_layers = 12
optimizer.params.no_weight_decay_names = ("pos_embed",)
optimizer.params.weight_decay_norm = 0.0
optimizer.params.weight_decay_bias = None
optimizer.params.norm_types = "torch"

train.amp = dict(enabled=True)
train.ddp = dict(broadcast_buffers=False, find_unused_parameters=False, fp16_compression=True)
train.checkpointer = dict(period=5000, max_to_keep=3)
train.eval_period = 5000
train.init_checkpoint = "pretrained/mae_pretrain_vit_base.pth"
train.init_format = "mae"
train.output_dir = "./output/mask_rcnn_vitdet_b_100ep"
# recipe="vitdet" tells runs of this recipe from the Benchmarking ones (recipe="benchmarking").
train.vitdet_bench = dict(init="mae", model_size="B", epochs=100, recipe="vitdet")

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
