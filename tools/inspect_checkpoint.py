#!/usr/bin/env python
"""Print the load report of a pre-trained checkpoint without training.

    python tools/inspect_checkpoint.py PATH --config-file configs/....py [--format auto]
        [--lenient] [--json OUT.json] [KEY=VALUE ...]

Only the config's ViT (``model.backbone.bottom_up.net`` / ``model.backbone.net``, or
``model`` itself if it is a ViT) is built, so this is fast on a CPU; for other families
(ConvMAE, iTPN) ``model.backbone``. The format
defaults to ``train.init_format`` of the config, else "auto". Exit status 1 with
the error message on a checkpoint that would not load.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vitdet_bench  # noqa: E402,F401  (before detectron2)
from detectron2.config import LazyConfig, instantiate  # noqa: E402

from vitdet_bench.checkpoint import (  # noqa: E402
    CheckpointError,
    detect_format,
    load_pretrained,
    read_checkpoint,
)
from vitdet_bench.modeling.backbone.vit import ViT  # noqa: E402
from vitdet_bench.utils.io import atomic_write_json  # noqa: E402


def find_vit_node(node, path="model"):
    """The first lazy ``ViT(...)`` node in a LazyConfig tree, and its path."""
    if hasattr(node, "get") and node.get("_target_", None) is not None:
        target = node["_target_"]
        if target is ViT or getattr(target, "__name__", "") == "ViT" or str(target).endswith(".ViT"):
            return node, path
    if hasattr(node, "items"):
        for k, v in node.items():
            if hasattr(v, "items"):
                found = find_vit_node(v, f"{path}.{k}")
                if found[0] is not None:
                    return found
    return None, None


def describe_format(path: str, fmt: str, source: str) -> str:
    """One line: the format that will be used, where it comes from, and what the file
    is detected as (the two differ for a file given to the wrong config)."""
    fmt = (fmt or "auto").lower()
    if not path:
        return f"format: {fmt} (from {source}; no file)"
    raw = read_checkpoint(path)
    try:
        detected = detect_format(raw, path)
    except CheckpointError:
        detected = None
    seen = f"detected from the file: {detected}" if detected else "no known format detected"
    if fmt == "auto":
        return f"format: auto ({seen})"
    return f"format: {fmt} (from {source}; {seen})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", help="checkpoint file ('' with --format random)")
    ap.add_argument("--config-file", required=True)
    ap.add_argument("--format", default=None, help="auto, mae, beit, mocov3, supervised, random, ...")
    ap.add_argument("--lenient", action="store_true",
                    help="load the overlap of a file that does not fit the model or the format "
                         "exactly, and report the rest (strict_architecture=False)")
    ap.add_argument("--json", default=None, help="also write the report as JSON here")
    ap.add_argument("opts", nargs="*", help="LazyConfig overrides KEY=VALUE")
    args = ap.parse_intermixed_args(argv)
    cfg = LazyConfig.load(args.config_file)
    cfg = LazyConfig.apply_overrides(cfg, args.opts)
    node, where = find_vit_node(cfg.model)
    if node is None and "backbone" in cfg.model:
        # another family (ConvMAE, iTPN): its registered format finds its network in the backbone
        node, where = cfg.model.backbone, "model.backbone"
    if node is None:
        print(f"error: no ViT(...) and no backbone in {args.config_file}'s model", file=sys.stderr)
        return 2
    net = instantiate(node)
    fmt = args.format
    train = cfg.get("train", None)
    if fmt is None:
        fmt = train.get("init_format", "auto") if train is not None else "auto"
    keep_init = (train.get("init_keep", ()) if train is not None else ()) or ()
    if isinstance(net, ViT):
        print(f"model: {where} ({type(net).__name__}, embed_dim={net.embed_dim}, depth={net.depth}, "
              f"grid={net.grid_size[0]}x{net.grid_size[1]}, rel_pos={net.rel_pos}, "
              f"window={net.window_size}, window_blocks={list(net.window_block_indexes)})")
    else:
        print(f"model: {where} ({type(net).__name__})")
    try:
        print(describe_format(args.path, fmt, "--format" if args.format else
                              f"{args.config_file}'s train.init_format"))
        report = load_pretrained(net, args.path, format=fmt, strict_architecture=not args.lenient,
                                 lenient_option="--lenient", keep_init=keep_init)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        atomic_write_json(args.json, report.to_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
