"""ConvMAE-B Mask R-CNN, design 1 (multi-scale E1-E4 -> BN FPN), 100 epochs.

Alpha-VL/ConvMAE ``DET/configs/convmae/convmae_base_mask_rcnn_FPN_100ep.py`` on
vitdet_bench's detector (``configs/common/mask_rcnn_vit.py``: BN FPN with P6 by
max pool, 2-conv RPN, 4conv1fc BN box head, BN mask head; BN in place of SyncBN).

| setting          | value                                           | source (Alpha-VL/ConvMAE DET/)        |
|------------------|-------------------------------------------------|---------------------------------------|
| backbone         | C 256/384/768, L 2/2/11, 12 heads, MLP 4        | models/convmae.py ``ConvViT``         |
| stage 3          | global blocks 0/3/6/10, 16x16 windows, shared rel tables | models/convmae.py ``ConvViTDet.forward``; config window_size=16 |
| neck input       | s0, s1, s2, s3 = maxpool2x2(s2)                 | ``ms_adaptor`` / ``in_features``      |
| drop path        | 0.1                                             | config ``drop_path_rate``             |
| pos_embed        | frozen (requires_grad False)                    | ``sincos_pos_embed=True`` side effect |
| optimizer        | AdamW lr 8e-5, betas (0.9, 0.999), wd 0.1       | config ``optimizer``                  |
| no decay         | norms, pos_embed, relative_position_bias_table (biases keep 0.1) | get_default_optimizer_params(weight_decay_norm=0, overrides) |
| layer decay      | none                                            | config (plain get_default_optimizer_params) |
| schedule         | cosine 1 -> 0, linear warm-up 0.125% of 100 ep (461 iters) | config ``lr_multiplier`` |
| batch / length   | 32 images, 368750 iters (= 100 ep)              | config ``total_batch_size``, ``max_iter`` |
| input            | 1024 LSJ (0.1-2.0), flip                        | config ``dataloader``                 |
| AMP              | on                                              | config ``train.amp``                  |
| test input       | longer side 1024, padded to 1024x1024 with pixel 128 in the mapper; outputs scaled back by the longer side | config ``dataloader.test`` (``FixedSizeCrop``), ``lsj_postprocess=True`` |
"""
from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import CosineParamScheduler

from convmae import ConvMAE, get_convmae_param_groups
from convmae.evaluation import PaddedInputRCNN, build_padded_test_mapper

from ....configs.common.coco_lsj import dataloader
from ....configs.common.mask_rcnn_vit import model
from ....configs.common.recipe import optimizer, train

model.backbone.bottom_up = L(ConvMAE)(
    img_size=1024,
    embed_dims=(256, 384, 768),
    depths=(2, 2, 11),
    num_heads=12,
    mlp_ratios=(4, 4, 4),
    drop_path_rate=0.1,
    window_size=16,
    global_block_indexes=(0, 3, 6, 10),
    window_shift=False,
    rel_pos="shared",
    rel_pos_init="zero",
    use_abs_pos=True,
    freeze_pos_embed=True,
    conv_norm_eps=1e-5,
    out_features=("s0", "s1", "s2", "s3"),
)
model.backbone.in_features = ["s0", "s1", "s2", "s3"]
# Alpha-VL's evaluation: pad to the square in the mapper (pixel 128), rescale by the longer side
model._target_ = PaddedInputRCNN
dataloader.test.mapper = L(build_padded_test_mapper)(image_size=1024, pad_value=128.0,
                                                     image_format="RGB")

dataloader.train.total_batch_size = 32

optimizer.params = L(get_convmae_param_groups)(
    model=None,
    base_lr="${..lr}",
    weight_decay="${..weight_decay}",
    layer_decay=1.0,
    num_layers=11,
    weight_decay_norm=0.0,
    weight_decay_bias="${..weight_decay}",
)
optimizer.lr = 8e-5
optimizer.betas = (0.9, 0.999)
optimizer.weight_decay = 0.1

lr_multiplier = L(WarmupParamScheduler)(
    scheduler=L(CosineParamScheduler)(start_value=1.0, end_value=0.0),
    warmup_length=0.125 / 100,  # replaced from train.warmup_iters once max_iter is known
    warmup_factor=0.001,
)

train.epochs = 100
train.max_iter = 368750
train.warmup_iters = 461
train.amp.enabled = True
train.checkpointer = dict(period=3688, max_to_keep=3)
train.eval_period = 3688
train.init_checkpoint = "pretrained/convmae_base.pth"
train.init_format = "convmae"
train.output_dir = "./output/convmae_b_mrcnn_100ep"
train.vitdet_bench = dict(init="convmae", model_size="B", epochs=100)
