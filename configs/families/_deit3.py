"""DeiT III (Touvron et al. 2022, "DeiT III: Revenge of the ViT", facebookresearch/deit):
the sizes of the family configs.

Imported by ``configs/families/deit3_vit*_mrcnn.py`` and
``configs/families/vitdet/mask_rcnn_deit3_*.py``, not run alone. Supervised ViTs with
LayerScale and a position table without class slot (timm ``no_embed_class``); B/L patch
16, H patch 14 (kernel resampled to 16 at load). Files: the ImageNet-21K pre-trained,
ImageNet-1K fine-tuned 224 px checkpoints of ``README_revenge.md``
(``deit_3_{base,large}_224_21k.pth``, ``deit_3_huge_224_21k_v1.pth``; format ``deit3``),
timm's ``deit3_*_224.fb_in22k_ft_in1k`` weights, hence that tag in the model names.

DeiT III evaluates classification, transfer and semantic segmentation, not detection: lr,
layer decay and drop path are ViTDet's MAE values of the size. Pixel statistics:
ImageNet, timm's ``pretrained_cfg`` of ``deit3_*_224.fb_in22k_ft_in1k``.
"""
from ._recipes import IMAGENET_PIXEL_MEAN, IMAGENET_PIXEL_STD, MAE_RECIPE, apply_size

SIZES = {
    "b": dict(model_name="deit3_base_patch16_224.fb_in22k_ft_in1k", depth=12, model_size="B",
              checkpoint="deit_3_base_224_21k.pth", **MAE_RECIPE["B"]),
    "l": dict(model_name="deit3_large_patch16_224.fb_in22k_ft_in1k", depth=24, model_size="L",
              checkpoint="deit_3_large_224_21k.pth", **MAE_RECIPE["L"]),
    "h": dict(model_name="deit3_huge_patch14_224.fb_in22k_ft_in1k", depth=32, model_size="H",
              checkpoint="deit_3_huge_224_21k_v1.pth", **MAE_RECIPE["H"]),
}
COMMON = dict(init="deit3", init_format="deit3", pretrain_img_size=224,
              pixel_mean=IMAGENET_PIXEL_MEAN, pixel_std=IMAGENET_PIXEL_STD)


def apply_deit3(size, model, optimizer, train, recipe):
    """DeiT III ``size`` ("b", "l", "h") on ``recipe`` ("benchmarking" / "vitdet")."""
    apply_size(dict(COMMON, **SIZES[size]), model, optimizer, train, recipe)
