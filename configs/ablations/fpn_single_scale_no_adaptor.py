"""FPN input ablation, row "no multi-scale adaptor": one stride-16 map into RPN and ROI heads.

Li et al. 2021, the single-scale vs multi-scale table (ViT-B, MAE init). The last block's
stride-16 map goes through a one-level BN FPN (1x1 lateral + 3x3 output conv to 256
channels, no P6) as ``p4``; the RPN has one level with all five anchor sizes (15 anchors per
position, as detectron2's single-level C4 RPN), and both ROI poolers read ``p4`` at 1/16.
Where the row and its published figure come from: docs/provenance.md.
"""
from detectron2.config import LazyCall as L

from vitdet_bench.modeling import ViTFPN

from ..mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

vit = model.backbone.bottom_up.net
model.backbone = L(ViTFPN)(
    bottom_up=vit,
    in_features=["block11"],
    out_channels=256,
    norm="BN",
    top_block=None,
    square_pad=1024,
)
model.proposal_generator.in_features = ["p4"]
model.proposal_generator.anchor_generator.sizes = [[32, 64, 128, 256, 512]]
model.proposal_generator.anchor_generator.strides = [16]
model.proposal_generator.head.num_anchors = 15
model.roi_heads.box_in_features = ["p4"]
model.roi_heads.mask_in_features = ["p4"]
model.roi_heads.box_pooler.scales = (1.0 / 16,)
model.roi_heads.mask_pooler.scales = (1.0 / 16,)

train.output_dir = "./output/ablations/fpn_single_scale_no_adaptor"
train.vitdet_bench.ablation = "fpn_input/single_scale_no_adaptor"
