"""The detector of "Benchmarking Detection Transfer Learning with ViTs" (section 3.2).

detectron2's Mask R-CNN (FPN) with the paper's changes:
  * backbone: plain ViT-B (window + 4 global blocks, abs pos + shared rel-pos
    tables) -> multi-scale adaptor (strides 4/8/16/32) -> FPN with BatchNorm, P6 by max pool;
  * RPN head with two 3x3 convs;
  * box head 4conv1fc with BatchNorm;
  * mask head convs with BatchNorm.
BN here becomes synchronized BN automatically when more than one process trains
(vitdet_bench.layers.convert_batchnorm_for_world, called by tools/train_net.py).
"""
from detectron2 import model_zoo
from detectron2.config import LazyCall as L
from detectron2.modeling.backbone.fpn import LastLevelMaxPool

from vitdet_bench.modeling import MultiScaleAdaptor, ViT, ViTFPN
from vitdet_bench.modeling.poolers import ROIPooler

model = model_zoo.get_config("common/models/mask_rcnn_fpn.py").model

embed_dim, depth, num_heads = 768, 12, 12
model.backbone = L(ViTFPN)(
    bottom_up=L(MultiScaleAdaptor)(
        net=L(ViT)(
            img_size=1024,
            patch_size=16,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            mlp_ratio=4.0,
            qkv_bias=True,
            drop_path_rate=0.1,
            attention_strategy="window_global",  # 14x14 windows, blocks 2/5/8/11 global
            window_size=14,
            use_abs_pos=True,
            rel_pos="shared",
            rel_pos_init="zero",
            layer_scale_init_value=0.0,
        ),
        in_features=["block2", "block5", "block8", "block11"],  # d/4, d/2, 3d/4, d
        scale_factors=(4.0, 2.0, 1.0, 0.5),
        norm="GN",
    ),
    in_features=["c2", "c3", "c4", "c5"],
    out_channels=256,
    norm="BN",
    top_block=L(LastLevelMaxPool)(),
    square_pad=1024,
)

# detectron2's pooler with a one-gather ROIAlign on CPU (same numbers; CUDA unchanged)
model.roi_heads.box_pooler._target_ = ROIPooler
model.roi_heads.mask_pooler._target_ = ROIPooler

model.proposal_generator.head.conv_dims = [-1, -1]
model.roi_heads.box_head.conv_dims = [256, 256, 256, 256]
model.roi_heads.box_head.fc_dims = [1024]
model.roi_heads.box_head.conv_norm = "BN"
model.roi_heads.mask_head.conv_norm = "BN"

# ImageNet statistics in RGB, as every pre-training recipe here uses.
model.pixel_mean = [123.675, 116.28, 103.53]
model.pixel_std = [58.395, 57.12, 57.375]
model.input_format = "RGB"
