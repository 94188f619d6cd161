"""Applying one size of a pre-training family to the Benchmarking or the ViTDet recipe.

Imported by the ``configs/families/_<family>.py`` modules (not run alone). A size is a
plain dict (the family module's table) with:

* ``model_name``: the timm model with the tag of the weights (``name.tag``), so that
  ``timm.models.get_pretrained_cfg(model_name)`` is the pre-training the config
  states (pixel statistics, input size);
* ``pretrain_img_size``: the pre-training input side (position table, RoPE grid);
* ``depth`` and ``global_blocks``: the number of blocks and the four blocks that
  are global and tapped (Benchmarking: the multi-scale adaptor reads all four;
  ViTDet: the pyramid reads the last one, which is block ``depth - 1``);
* ``pixel_mean`` / ``pixel_std``: the pre-training normalization on 0-1 pixels (timm's
  ``pretrained_cfg``), multiplied by 255 here for detectron2's 0-255 inputs;
* ``checkpoint`` / ``init_format``: the official file and its registered format;
* ``lr`` / ``layer_decay`` / ``drop_path``: the recipe values.
"""

RECIPES = ("benchmarking", "vitdet")


def _quarter_ends(depth):
    return [depth // 4 * (k + 1) - 1 for k in range(4)]


def _window_blocks(depth, global_blocks):
    return [i for i in range(depth) if i not in global_blocks]


def apply_family_size(spec, recipe, model, optimizer, train):
    """Set the trunk, taps, pixel statistics, init checkpoint and recipe values of ``spec``.

    ``recipe`` is "benchmarking" (``model`` from configs/common/mask_rcnn_timm.py) or
    "vitdet" (``model`` from configs/common/mask_rcnn_vitdet_timm.py).
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    depth = spec["depth"]
    global_blocks = list(spec["global_blocks"])
    if len(global_blocks) != 4 or global_blocks != sorted(global_blocks) \
            or global_blocks[-1] != depth - 1:
        raise ValueError(f"{spec['model_name']}: global_blocks {global_blocks} must be four "
                         f"increasing block indexes ending with the last block ({depth - 1})")

    if recipe == "benchmarking":
        net = model.backbone.bottom_up.net
        net.out_block_indexes = global_blocks
        model.backbone.bottom_up.in_features = [f"block{i}" for i in global_blocks]
    else:
        net = model.backbone.net
        net.out_block_indexes = [depth - 1]
        model.backbone.in_feature = f"block{depth - 1}"
    net.model_name = spec["model_name"]
    net.pretrain_img_size = spec["pretrain_img_size"]
    net.drop_path_rate = spec["drop_path"]
    if depth % 4 == 0 and global_blocks == _quarter_ends(depth):
        # ViTDet's layout, by name: tools/benchmark.py can then switch strategies.
        net.attention_strategy = "window_global"
    else:
        # Not the last block of each quarter (a depth not divisible by 4, or a family's
        # own published choice): the global blocks are given explicitly.
        net.attention_strategy = None
        net.window_block_indexes = _window_blocks(depth, global_blocks)

    model.pixel_mean = [255.0 * m for m in spec["pixel_mean"]]
    model.pixel_std = [255.0 * s for s in spec["pixel_std"]]

    optimizer.lr = spec["lr"]
    optimizer.params.layer_decay = spec["layer_decay"]
    optimizer.params.num_layers = depth

    train.init_checkpoint = f"pretrained/{spec['checkpoint']}"
    train.init_format = spec["init_format"]
