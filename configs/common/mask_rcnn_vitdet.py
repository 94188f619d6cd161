"""The ViTDet detector (Li et al. 2022), as detectron2's ``common/models/mask_rcnn_vitdet.py``.

detectron2's Mask R-CNN (FPN) with ViTDet's changes, side by side with the
Benchmarking detector of ``mask_rcnn_vit.py`` (see docs/vitdet.md):
  * backbone: plain ViT-B, 14x14 windows, blocks 2/5/8/11 global, per-block
    decomposed relative positions (zero init), the absolute embedding kept at the
    224 pre-training grid (with the class-token slot) and interpolated in every forward;
  * neck: simple feature pyramid from the last block (4x/2x/1x/0.5x, channel
    LayerNorm), P6 by max pool; inputs padded to a 1024 square;
  * RPN head with two 3x3 convs; box head 4conv1fc and mask head with LayerNorm.
Parameter count (ViT-B, 80 classes): 110,895,792, as upstream's model
(tests/test_vitdet_recipe.py).
"""
from detectron2 import model_zoo
from detectron2.config import LazyCall as L
from detectron2.modeling.backbone.fpn import LastLevelMaxPool

from vitdet_bench.layers.norm import channel_norm
from vitdet_bench.modeling import SimpleFeaturePyramid, ViT
from vitdet_bench.modeling.poolers import ROIPooler

model = model_zoo.get_config("common/models/mask_rcnn_fpn.py").model

model.backbone = L(SimpleFeaturePyramid)(
    net=L(ViT)(
        img_size=1024,
        patch_size=16,
        embed_dim=768,
        depth=12,
        num_heads=12,
        mlp_ratio=4.0,
        qkv_bias=True,
        drop_path_rate=0.1,
        attention_strategy=None,
        window_size=14,
        window_block_indexes=[0, 1, 3, 4, 6, 7, 9, 10],  # 2, 5, 8, 11 global
        use_abs_pos=True,
        pos_embed_grid="pretrain",
        pretrain_img_size=224,
        pretrain_use_cls_token=True,
        rel_pos="decomposed",
        rel_pos_init="zero",
        out_block_indexes=[11],
    ),
    in_feature="block11",
    out_channels=256,
    scale_factors=(4.0, 2.0, 1.0, 0.5),
    norm="LN",
    top_block=L(LastLevelMaxPool)(),
    square_pad=1024,
)

# detectron2's pooler with a one-gather ROIAlign on CPU (same numbers; CUDA unchanged)
model.roi_heads.box_pooler._target_ = ROIPooler
model.roi_heads.mask_pooler._target_ = ROIPooler

# "LN" on detectron2 0.6 and main alike (0.6's get_norm has no "LN")
model.roi_heads.box_head.conv_norm = L(channel_norm)(norm="LN")
model.roi_heads.mask_head.conv_norm = L(channel_norm)(norm="LN")

model.proposal_generator.head.conv_dims = [-1, -1]  # 2conv in RPN
model.roi_heads.box_head.conv_dims = [256, 256, 256, 256]  # 4conv1fc box head
model.roi_heads.box_head.fc_dims = [1024]

model.pixel_mean = [123.675, 116.28, 103.53]
model.pixel_std = [58.395, 57.12, 57.375]
model.input_format = "RGB"


def set_vit(model, embed_dim, depth, num_heads, drop_path_rate, global_blocks):
    """Resize the ViT of ``model`` (ViT-L/H configs): the windowed blocks are all but
    ``global_blocks``; the pyramid reads the last block."""
    net = model.backbone.net
    net.embed_dim, net.depth, net.num_heads = embed_dim, depth, num_heads
    net.drop_path_rate = drop_path_rate
    net.window_block_indexes = [i for i in range(depth) if i not in global_blocks]
    net.out_block_indexes = [depth - 1]
    model.backbone.in_feature = f"block{depth - 1}"
