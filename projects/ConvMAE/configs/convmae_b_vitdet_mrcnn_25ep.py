"""ConvMAE-B Mask R-CNN, design 2 (ViTDet-style simple pyramid from E3), 25 epochs.

OpenGVLab/Official-ConvMAE-Det ``projects/ConvMAEDet/configs/COCO/mask_rcnn_vitdet_convmae_b_25ep.py``
(53.9 box / 47.6 mask AP), on vitdet_bench's heads (2-conv RPN, 4conv1fc BN box
head, BN mask head); the neck is the library's ``SimpleFeaturePyramid`` with LN, as
ViTDet's ``mask_rcnn_vitdet.py``; its 0.5x level is a 2x2 max pool of E3 (= E4).

| setting        | value                                             | source                                  |
|----------------|---------------------------------------------------|-----------------------------------------|
| stage 3        | global 1/4/7/10 (window_block_indexes 0,2,3,5,6,8,9), 14x14 windows, decomposed rel pos | Official-ConvMAE-Det config |
| drop path      | 0.1                                               | same config                             |
| conv-stage LN eps | 1e-6 (``norm_layer``)                          | modeling/convmae.py                     |
| optimizer      | AdamW lr 1e-4, betas (0.9, 0.999), wd 0.1         | detectron2 ``common/optim.py`` AdamW    |
| no decay       | norms, biases, pos_embed, rel_pos_h/w             | common/optim.py + ``overrides``         |
| layer decay    | 0.8 over 11 stage-3 blocks; stages 1-2 and patch embeds = layer 0 | ``get_vit_lr_decay_rate(num_layers=11, lr_decay_rate=0.8)`` |
| schedule       | step x0.1 at 163889 and 177546 of 184375 iters, 250-iter warm-up | same config |
| batch          | 16 (184375 x 16 / 118k = 25 ep)                   | same config                             |
"""
from detectron2.config import LazyCall as L
from detectron2.modeling.backbone.fpn import LastLevelMaxPool
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import MultiStepParamScheduler

from detectron2.modeling import GeneralizedRCNN

from vitdet_bench.data import build_test_mapper
from vitdet_bench.modeling.necks import SimpleFeaturePyramid

from .convmae_b_mrcnn_100ep import ConvMAE, dataloader, get_convmae_param_groups, model, optimizer, train

model.backbone = L(SimpleFeaturePyramid)(
    net=L(ConvMAE)(
        img_size=1024,
        embed_dims=(256, 384, 768),
        depths=(2, 2, 11),
        num_heads=12,
        mlp_ratios=(4, 4, 4),
        drop_path_rate=0.1,
        window_size=14,
        global_block_indexes=(1, 4, 7, 10),
        window_shift=False,
        rel_pos="decomposed",
        rel_pos_init="zero",
        use_abs_pos=True,
        freeze_pos_embed=False,
        conv_norm_eps=1e-6,
        out_features=("s2",),
    ),
    in_feature="s2",
    out_channels=256,
    scale_factors=(4.0, 2.0, 1.0, 0.5),
    norm="LN",
    top_block=L(LastLevelMaxPool)(),
    square_pad=1024,
)

dataloader.train.total_batch_size = 16
# ViTDet's evaluation (Official-ConvMAE-Det is built on it): the model pads after
# normalization; design 1's mapper-side 128 padding does not apply here.
model._target_ = GeneralizedRCNN
dataloader.test.mapper = L(build_test_mapper)(image_size=1024, image_format="RGB")

optimizer.params = L(get_convmae_param_groups)(
    model=None, base_lr="${..lr}", weight_decay="${..weight_decay}",
    layer_decay=0.8, num_layers=11, weight_decay_norm=0.0, weight_decay_bias=0.0,
)
optimizer.lr = 1e-4
optimizer.weight_decay = 0.1

lr_multiplier = L(WarmupParamScheduler)(
    scheduler=L(MultiStepParamScheduler)(
        values=[1.0, 0.1, 0.01], milestones=[163889, 177546], num_updates=184375),
    warmup_length=250 / 184375,
    warmup_factor=0.001,
)

train.epochs = 25
train.max_iter = 184375
train.warmup_iters = 250
train.checkpointer = dict(period=2500, max_to_keep=2)
train.eval_period = 7500
train.output_dir = "./output/convmae_b_vitdet_mrcnn_25ep"
train.vitdet_bench = dict(init="convmae", model_size="B", epochs=25)

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
