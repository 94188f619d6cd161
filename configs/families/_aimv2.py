"""AIMv2 (Fini et al. 2024) image encoders: the sizes of the family configs.

Imported by ``configs/families/aimv2_vit*_mrcnn.py`` and
``configs/families/vitdet/mask_rcnn_aimv2_*.py``, not run alone; each size is applied to
either recipe by ``_recipes.py``.

| size | timm model (tag)                  | pre-training | blocks | width | global / taps | official file (Hugging Face)                      |
|------|-----------------------------------|--------------|--------|-------|---------------|---------------------------------------------------|
| l    | aimv2_large_patch14_224.apple_pt  | 224, /14     | 24     | 1024  | 5, 11, 17, 23 | apple/aimv2-large-patch14-224 model.safetensors   |
| h    | aimv2_huge_patch14_224.apple_pt   | 224, /14     | 24     | 1536  | 5, 11, 17, 23 | apple/aimv2-huge-patch14-224 model.safetensors    |

* Pixel statistics: OpenAI CLIP's mean (0.48145466, 0.4578275, 0.40821073) and std
  (0.26862954, 0.26130258, 0.27577711) on 0-1 pixels (timm ``pretrained_cfg`` of the
  ``apple_pt`` tags), times 255 for 0-255 inputs.
* No class token; RMSNorm, SwiGLU, no biases; absolute position table of the 16x16 grid.
* Format ``aimv2``: the layout of apple/ml-aim (``preprocessor.patchifier``,
  ``trunk.blocks.N``, ``trunk.post_trunk_norm``), the layout of those Hugging Face files
  written for their ``trust_remote_code`` model; the transformers-native ``Aimv2`` layout
  is not converted by timm and not accepted. Stored here under the repository's name,
  ``pretrained/<repo>/model.safetensors``.
* Recipe values: AIMv2 publishes no Mask R-CNN / ViTDet fine-tuning recipe, so lr, layer
  decay and drop path are ViTDet's MAE values for the size (L: 1e-4 / 0.8 / 0.4;
  H: ViT-H's 1e-4 / 0.9 / 0.5; AIMv2-H has 24 blocks, ViT-H 32: the decay is per block).
"""
from ._recipes import MAE_RECIPE, OPENAI_CLIP_PIXEL_MEAN, OPENAI_CLIP_PIXEL_STD, apply_size

SIZES = {
    "l": dict(model_name="aimv2_large_patch14_224.apple_pt", depth=24, model_size="L",
              checkpoint="aimv2-large-patch14-224/model.safetensors", **MAE_RECIPE["L"]),
    "h": dict(model_name="aimv2_huge_patch14_224.apple_pt", depth=24, model_size="H",
              checkpoint="aimv2-huge-patch14-224/model.safetensors", **MAE_RECIPE["H"]),
}
# timm pretrained_cfg of aimv2_*_patch14_224.apple_pt (OPENAI_CLIP_MEAN / OPENAI_CLIP_STD)
COMMON = dict(init="aimv2", init_format="aimv2", pretrain_img_size=224,
              pixel_mean=OPENAI_CLIP_PIXEL_MEAN, pixel_std=OPENAI_CLIP_PIXEL_STD)


def apply_aimv2(size, model, optimizer, train, recipe):
    """AIMv2 ``size`` ("l", "h") on ``recipe`` ("benchmarking" / "vitdet")."""
    apply_size(dict(COMMON, **SIZES[size]), model, optimizer, train, recipe)
