#!/usr/bin/env python
"""Print the load report of a checkpoint without training.

    python tools/inspect_checkpoint.py PATH --config-file configs/....py [--format auto]
        [--lenient] [--trust-checkpoint] [--json OUT.json] [KEY=VALUE ...]

For a pre-trained file only the config's ViT (``model.backbone.bottom_up.net`` /
``model.backbone.net``, or ``model`` itself if it is a ViT) is built, so this is fast on a
CPU; for other families (ConvMAE, iTPN) ``model.backbone``. For a whole detector (a
released ``model_final_*.pkl``, a run's ``model_final.pth``) the config's detector is
built and the report is the one ``train_net.py --eval-only`` acts on (an error where the
evaluation would stop, e.g. tensors left at their initialization). The format defaults
to ``train.init_format`` of the config, else "auto". The file is read without running
code from it; ``--trust-checkpoint`` reads a file the safe reader refuses with the full
unpickler. Exit status 1 with the error message on a checkpoint that would not load.
"""
import argparse
import sys

import vitdet_bench  # noqa: E402,F401  (before detectron2)
from detectron2.config import LazyConfig, instantiate  # noqa: E402

from vitdet_bench.checkpoint import (  # noqa: E402
    CheckpointError,
    detect_format,
    load_pretrained,
    read_checkpoint,
)
from vitdet_bench.checkpoint.evaluation import is_whole_detector_format, load_for_evaluation  # noqa: E402
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


def detected_format(path: str, trust: bool = False):
    """The format the file is detected as, or None."""
    raw = read_checkpoint(path, trust=trust, trust_option="--trust-checkpoint")
    try:
        return detect_format(raw, path)
    except CheckpointError:
        return None


def describe_format(path: str, fmt: str, source: str, detected=None) -> str:
    """One line: the format that will be used, where it comes from, and what the file
    is detected as (the two differ for a file given to the wrong config)."""
    fmt = (fmt or "auto").lower()
    if not path:
        return f"format: {fmt} (from {source}; no file)"
    seen = f"detected from the file: {detected}" if detected else "no known format detected"
    if fmt == "auto":
        return f"format: auto ({seen})"
    return f"format: {fmt} (from {source}; {seen})"


def inspect_pretrained(cfg, args, fmt, source, detected, keep_init):
    """Build the config's ViT (or another family's backbone) and load the file into it."""
    node, where = find_vit_node(cfg.model)
    if node is None and "backbone" in cfg.model:
        # another family (ConvMAE, iTPN): its registered format finds its network in the backbone
        node, where = cfg.model.backbone, "model.backbone"
    if node is None:
        print(f"error: no ViT(...) and no backbone in {args.config_file}'s model", file=sys.stderr)
        return None
    net = instantiate(node)
    if isinstance(net, ViT):
        print(f"model: {where} ({type(net).__name__}, embed_dim={net.embed_dim}, depth={net.depth}, "
              f"grid={net.grid_size[0]}x{net.grid_size[1]}, rel_pos={net.rel_pos}, "
              f"window={net.window_size}, window_blocks={list(net.window_block_indexes)})")
    else:
        print(f"model: {where} ({type(net).__name__})")
    print(describe_format(args.path, fmt, source, detected))
    return load_pretrained(net, args.path, format=fmt, strict_architecture=not args.lenient,
                           lenient_option="--lenient", keep_init=keep_init,
                           trust_checkpoint=args.trust_checkpoint, trust_option="--trust-checkpoint")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", help="checkpoint file ('' with --format random)")
    ap.add_argument("--config-file", required=True)
    ap.add_argument("--format", default=None, help="auto, mae, beit, mocov3, supervised, random, ...")
    ap.add_argument("--lenient", action="store_true",
                    help="load the overlap of a file that does not fit the model or the format "
                         "exactly, and report the rest (strict_architecture=False)")
    ap.add_argument("--trust-checkpoint", action="store_true",
                    help="read a file the safe reader refuses with the full unpickler (it can "
                         "run code from the file: only for a file you trust)")
    ap.add_argument("--json", default=None, help="also write the report as JSON here")
    ap.add_argument("opts", nargs="*", help="LazyConfig overrides KEY=VALUE")
    args = ap.parse_intermixed_args(argv)
    cfg = LazyConfig.load(args.config_file)
    cfg = LazyConfig.apply_overrides(cfg, args.opts)
    fmt = args.format
    train = cfg.get("train", None)
    if fmt is None:
        fmt = train.get("init_format", "auto") if train is not None else "auto"
    fmt = (fmt or "auto").lower()
    keep_init = (train.get("init_keep", ()) if train is not None else ()) or ()
    source = "--format" if args.format else f"{args.config_file}'s train.init_format"
    try:
        detected = detected_format(args.path, args.trust_checkpoint) if args.path else None
        if is_whole_detector_format(fmt) or is_whole_detector_format(detected):
            # a whole detector: the report --eval-only acts on
            model = instantiate(cfg.model).eval()
            print(f"model: model ({type(model).__name__}, the config's whole detector: the "
                  "weights train_net.py --eval-only would evaluate)")
            print(describe_format(args.path, fmt, source, detected))
            allow_fresh = bool(train.get("eval_allow_fresh", False)) if train is not None else False
            report = load_for_evaluation(model, args.path, format=fmt, lenient=args.lenient,
                                         allow_fresh=allow_fresh,
                                         trust_checkpoint=args.trust_checkpoint,
                                         lenient_option="--lenient",
                                         trust_option="--trust-checkpoint")
        else:
            report = inspect_pretrained(cfg, args, fmt, source, detected, keep_init)
            if report is None:
                return 2
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        atomic_write_json(args.json, report.to_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
