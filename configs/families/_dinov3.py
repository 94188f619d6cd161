"""DINOv3 (Simeoni et al. 2025, facebookresearch/dinov3): the sizes of the family configs.

Imported by ``configs/families/dinov3_vit*_mrcnn.py`` and
``configs/families/vitdet/mask_rcnn_dinov3_*.py``, not run alone. Patch 16, class + 4
storage tokens (dropped before the first detection block), LayerScale, RoPE on
coordinates normalized to the whole grid and no absolute table; H+ has a SwiGLU MLP.
The distilled B/L/H+ files carry all-zero qkv biases (k masked): timm's
``vit_*_patch16_dinov3`` models have none, and the loader ignores those zeros by a named
rule. Official files: ``dinov3_vit{b16,l16,h16plus}_pretrain_lvd1689m-<hash>.pth``, the
hashes of ``dinov3/hub/backbones.py`` (format ``dinov3``). Pre-training size 256: timm's
``pretrained_cfg`` input size (only a reference here: the trunk has no position table and
DINOv3's RoPE coordinates are normalized to the grid).

DINOv3's published detector is Plain-DETR on the frozen ViT-7B (``dinov3/hub/detectors.py``);
no fine-tuning recipe for B/L/H+: lr, layer decay and drop path are ViTDet's MAE values of
the size (H+: the H values). Pixel statistics: ImageNet, timm's ``pretrained_cfg`` of
``vit_*_patch16_dinov3.lvd1689m``.
"""
from ._recipes import IMAGENET_PIXEL_MEAN, IMAGENET_PIXEL_STD, MAE_RECIPE, apply_size

SIZES = {
    "b": dict(model_name="vit_base_patch16_dinov3", depth=12, model_size="B",
              checkpoint="dinov3_vitb16_pretrain_lvd1689m-73cec8be.pth", **MAE_RECIPE["B"]),
    "l": dict(model_name="vit_large_patch16_dinov3", depth=24, model_size="L",
              checkpoint="dinov3_vitl16_pretrain_lvd1689m-8aa4cbdd.pth", **MAE_RECIPE["L"]),
    "h": dict(model_name="vit_huge_plus_patch16_dinov3", depth=32, model_size="H",
              checkpoint="dinov3_vith16plus_pretrain_lvd1689m-7c1da9a5.pth", **MAE_RECIPE["H"]),
}
COMMON = dict(init="dinov3", init_format="dinov3", pretrain_img_size=256,
              pixel_mean=IMAGENET_PIXEL_MEAN, pixel_std=IMAGENET_PIXEL_STD)


def apply_dinov3(size, model, optimizer, train, recipe):
    """DINOv3 ``size`` ("b", "l", "h" = H+) on ``recipe`` ("benchmarking" / "vitdet")."""
    apply_size(dict(COMMON, **SIZES[size]), model, optimizer, train, recipe)
