"""OpenAI CLIP (Radford et al. 2021) image encoders: the sizes of the family configs.

Imported by ``configs/families/clip_vit*_mrcnn.py`` and
``configs/families/vitdet/mask_rcnn_clip_*.py``, not run alone; each size is applied to
either recipe by ``_recipes.py``.

| size | timm model (tag)                  | pre-training | blocks | global / taps | official model (openai/CLIP) |
|------|-----------------------------------|--------------|--------|---------------|------------------------------|
| b    | vit_base_patch16_clip_quickgelu_224.openai  | 224, /16 | 12 | 2, 5, 8, 11   | ViT-B/16 (ViT-B-16.pt) |
| l    | vit_large_patch14_clip_quickgelu_224.openai | 224, /14 | 24 | 5, 11, 17, 23 | ViT-L/14 (ViT-L-14.pt) |

* The ``quickgelu`` models: OpenAI's towers use QuickGELU (``x * sigmoid(1.702 x)``);
  timm's ``vit_*_clip_224`` use GELU and their ``openai`` pretrained_cfg notes "natively
  QuickGELU, use quickgelu model variant for original results". Same tensors, other MLP.

* Pixel statistics: OpenAI CLIP's mean (0.48145466, 0.4578275, 0.40821073) and std
  (0.26862954, 0.26130258, 0.27577711) on 0-1 pixels (timm ``pretrained_cfg`` of the
  ``openai`` tags), times 255 for 0-255 inputs.
* A class token, a pre-block LayerNorm (``ln_pre``); absolute position table
  of the 14x14 / 16x16 grid with a class slot.
* The file. OpenAI's released ``ViT-B-16.pt`` / ``ViT-L-14.pt`` are TorchScript archives,
  which the checkpoint reader never opens (loading one runs its code). Give the state dict
  instead, e.g. written with the openai/CLIP package:
  ``torch.save(clip.load("ViT-B/16", device="cpu", jit=False)[0].state_dict(),
  "pretrained/ViT-B-16.state_dict.pt")`` (``ViT-L/14`` -> ``ViT-L-14.state_dict.pt``).
  Its layout (``visual.*``, text tower beside it) is format ``openai_clip``; OpenCLIP's
  state dicts of the same models share it.
* Recipe values: CLIP publishes no detection fine-tuning recipe, so lr, layer decay and
  drop path are ViTDet's MAE values for the size (B: 1e-4 / 0.7 / 0.1; L: 1e-4 / 0.8 / 0.4).
"""
from ._recipes import MAE_RECIPE, OPENAI_CLIP_PIXEL_MEAN, OPENAI_CLIP_PIXEL_STD, apply_size

SIZES = {
    "b": dict(model_name="vit_base_patch16_clip_quickgelu_224.openai", depth=12, model_size="B",
              checkpoint="ViT-B-16.state_dict.pt", **MAE_RECIPE["B"]),
    "l": dict(model_name="vit_large_patch14_clip_quickgelu_224.openai", depth=24, model_size="L",
              checkpoint="ViT-L-14.state_dict.pt", **MAE_RECIPE["L"]),
}
# timm pretrained_cfg of vit_*_clip_quickgelu_224.openai (OPENAI_CLIP_MEAN / OPENAI_CLIP_STD)
COMMON = dict(init="clip", init_format="openai_clip", pretrain_img_size=224,
              pixel_mean=OPENAI_CLIP_PIXEL_MEAN, pixel_std=OPENAI_CLIP_PIXEL_STD)


def apply_clip(size, model, optimizer, train, recipe):
    """OpenAI CLIP ``size`` ("b", "l") on ``recipe`` ("benchmarking" / "vitdet")."""
    apply_size(dict(COMMON, **SIZES[size]), model, optimizer, train, recipe)
