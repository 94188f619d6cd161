"""iTPN-B (pixel pre-training) Mask R-CNN 1x, integral design: the published 53.0 box / 46.5 mask AP.

sunsmarterjie/iTPN ``det/configs/itpn/pixel_itpn_base_1x_ld090_dp005.py`` on vitdet_bench's
machinery: the pre-trained integral pyramid *is* the neck (``neck=None`` there).

| setting       | value                                                        | source (official)                              |
|---------------|--------------------------------------------------------------|------------------------------------------------|
| trunk         | C 512, MLP blocks 3/3 (ratio 3), 24 global blocks, 8 heads    | config ``embed_dim``/``depth``/``num_heads``; ``iTPN_pixel`` defaults ``mlp_depth1/2=3``, ``bridge_mlp_ratio=3`` |
| positions     | APE (1, 196, 512) from 224 px, no relative positions          | config ``img_size=224``, ``ape=True``, ``rpe=False`` |
| pyramid       | integral, fpn 256, fpn_depth 1, P5/P6 by 2x2 avg pool         | config ``fpn_dim``, ``fpn_depth``, ``num_outs=5``; ``forward_features`` |
| LayerNorm eps | 1e-5                                                         | ``norm_layer=nn.LayerNorm`` (detection code; pre-training used 1e-6) |
| drop path     | 0.05                                                         | config ``drop_path_rate``                      |
| RPN           | one 3x3 conv, anchors 32-512 on P2-P6, ratios 0.5/1/2         | ``RPNHead``, ``AnchorGenerator``               |
| box head      | 4conv1fc (256, 1024), BN (SyncBN on several processes)        | ``ConvFCBBoxHead`` ``num_shared_convs=4``, ``norm_cfg=SyncBN`` |
| box loss      | class-specific, GIoU x 10 on decoded boxes, stds 0.1/0.1/0.2/0.2 | ``reg_class_agnostic=False``, ``reg_decoded_bbox=True``, ``GIoULoss(loss_weight=10)`` |
| mask head     | 4 convs, no norm                                             | ``FCNMaskHead`` ``num_convs=4``                |
| ROI levels    | P2-P5, ROIAlign 7 / 14, sampling ratio 0 (adaptive)          | ``SingleRoIExtractor``                         |
| optimizer     | AdamW lr 2e-4, betas (0.9, 0.999), wd 0.05                   | config ``optimizer``                           |
| no decay      | biases, norms, absolute_pos_embed, layer scale, rel-pos tables | ``custom_keys`` / constructor's 1-D rule    |
| layer decay   | 0.9 over the 30 non-merge trunk blocks (``layer_ids``: see itpn/solver.py) | ``paramwise_cfg`` ``num_layers=30``, ``layer_decay_rate=0.90`` |
| schedule      | 12 epochs, x0.1 at epochs 9 and 11; linear warm-up 500 iterations from 0.001 | ``lr_config.step=[9, 11]``, ``max_epochs=12``; mmdet schedule_1x warm-up |
| batch         | 64 images                                                    | issue #20 (the configs give 2 per GPU)         |
| train input   | flip; short side 480-800 step 32 (max 1333), or 400/500/600 + crop 384-600 first | ``train_pipeline`` (AutoAugment, DETR)  |
| test input    | short side 800, max 1333, padded to 32                        | ``coco_instance.py`` ``img_scale=(1333, 800)`` |
| AMP           | on (GPU)                                                     | ``EpochBasedRunnerAmp``, ``use_fp16=True``     |
"""
import torch
from detectron2 import model_zoo
from detectron2.config import LazyCall as L
from detectron2.data import build_detection_test_loader, build_detection_train_loader
from detectron2.data import get_detection_dataset_dicts
from detectron2.evaluation import COCOEvaluator
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import MultiStepParamScheduler

from itpn import ITPN, build_detr_train_mapper, build_itpn_test_mapper, get_itpn_param_groups
from vitdet_bench.modeling.poolers import ROIPooler

from ....configs.common.recipe import train

model = model_zoo.get_config("common/models/mask_rcnn_fpn.py").model
model.backbone = L(ITPN)(
    embed_dim=512,
    mlp_depths=(3, 3),
    depth=24,
    num_heads=8,
    bridge_mlp_ratio=3.0,
    mlp_ratio=4.0,
    drop_path_rate=0.05,
    layer_scale_init_value=0.0,
    rel_pos=False,
    pretrain_img_size=224,
    norm_eps=1e-5,
    integral_pyramid=True,
    fpn_dim=256,
    fpn_depth=1,
    pyramid_init="pretrained",  # "random": the ablation (integral pyramid from random weights)
    use_checkpoint=False,
)
model.proposal_generator.in_features = ["p2", "p3", "p4", "p5", "p6"]
model.roi_heads.box_in_features = ["p2", "p3", "p4", "p5"]
model.roi_heads.mask_in_features = ["p2", "p3", "p4", "p5"]
model.roi_heads.box_pooler._target_ = ROIPooler
model.roi_heads.mask_pooler._target_ = ROIPooler
model.roi_heads.box_head.conv_dims = [256, 256, 256, 256]
model.roi_heads.box_head.fc_dims = [1024]
model.roi_heads.box_head.conv_norm = "BN"
model.roi_heads.box_predictor.box_reg_loss_type = "giou"
model.roi_heads.box_predictor.loss_weight = {"loss_cls": 1.0, "loss_box_reg": 10.0}
model.pixel_mean = [123.675, 116.28, 103.53]
model.pixel_std = [58.395, 57.12, 57.375]
model.input_format = "RGB"

dataloader = dict(
    train=L(build_detection_train_loader)(
        dataset=L(get_detection_dataset_dicts)(names="coco_2017_train"),
        mapper=L(build_detr_train_mapper)(image_format="RGB"),
        total_batch_size=64,
        num_workers=4,
    ),
    test=L(build_detection_test_loader)(
        dataset=L(get_detection_dataset_dicts)(names="coco_2017_val", filter_empty=False),
        mapper=L(build_itpn_test_mapper)(short_side=800, max_size=1333, image_format="RGB"),
        num_workers=4,
    ),
    evaluator=L(COCOEvaluator)(dataset_name="${..test.dataset.names}", use_fast_impl=False),
)

optimizer = L(torch.optim.AdamW)(
    params=L(get_itpn_param_groups)(
        model=None,  # filled in by tools/train_net.py
        base_lr="${..lr}",
        weight_decay="${..weight_decay}",
        layer_decay=0.9,
        num_layers=30,
        layer_ids="blocks",  # "official": the official constructor's ids (top block lr x 1.11)
    ),
    lr=2e-4,
    betas=(0.9, 0.999),
    weight_decay=0.05,
)

# x0.1 at the ends of epochs 9 and 11 of 12 (fractions of training, so it follows max_iter).
lr_multiplier = L(WarmupParamScheduler)(
    scheduler=L(MultiStepParamScheduler)(values=[1.0, 0.1, 0.01], milestones=[9, 11], num_updates=12),
    warmup_length=500 / 22000,  # replaced from train.warmup_iters once max_iter is known
    warmup_factor=0.001,
)

train.epochs = 12
train.max_iter = 22000  # recomputed from epochs
train.warmup_iters = 500
train.amp.enabled = True
train.checkpointer = dict(period=1850, max_to_keep=3)
train.eval_period = 1850 * 12
train.init_checkpoint = "pretrained/itpn_pixel_base.pth"
train.init_format = "itpn"
train.output_dir = "./output/itpn_pixel_b_mrcnn_1x"
train.vitdet_bench = dict(init="itpn_pixel", model_size="B", epochs=12)
