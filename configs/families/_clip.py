"""OpenAI CLIP (Radford et al. 2021) image encoders: sizes and how one is applied to a recipe.

Imported by ``clip_vit*_mrcnn.py`` and ``vitdet/mask_rcnn_clip_*.py`` (not run alone).

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
from ._family_recipe import apply_family_size

# timm pretrained_cfg of vit_*_clip_quickgelu_224.openai (OPENAI_CLIP_MEAN / OPENAI_CLIP_STD)
_OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

CLIP_SIZES = {
    "b": dict(model_name="vit_base_patch16_clip_quickgelu_224.openai", pretrain_img_size=224,
              depth=12, global_blocks=(2, 5, 8, 11),
              checkpoint="ViT-B-16.state_dict.pt", init_format="openai_clip",
              pixel_mean=_OPENAI_CLIP_MEAN, pixel_std=_OPENAI_CLIP_STD,
              lr=1e-4, layer_decay=0.7, drop_path=0.1),
    "l": dict(model_name="vit_large_patch14_clip_quickgelu_224.openai", pretrain_img_size=224,
              depth=24, global_blocks=(5, 11, 17, 23),
              checkpoint="ViT-L-14.state_dict.pt", init_format="openai_clip",
              pixel_mean=_OPENAI_CLIP_MEAN, pixel_std=_OPENAI_CLIP_STD,
              lr=1e-4, layer_decay=0.8, drop_path=0.4),
}


def apply_clip(size, recipe, model, optimizer, train):
    """Apply OpenAI CLIP ``size`` ("b", "l") to a "benchmarking" or "vitdet" recipe."""
    apply_family_size(CLIP_SIZES[size], recipe, model, optimizer, train)
