#!/usr/bin/env python
"""Train / evaluate a vitdet_bench LazyConfig: the command line of
:func:`vitdet_bench.engine.launch.launch_main` (pre-flight checks, then one process or
``--num-gpus`` processes; without CUDA, CPU processes over gloo). Errors that are the
user's to fix print one paragraph and exit with 2 (configuration, checkpoint) or 1
(data, divergence); see ``--help``.
"""
import argparse

import vitdet_bench  # noqa: F401  (compat patches before detectron2)
import vitdet_bench.data  # noqa: F401  (registers datasets)
from detectron2.engine import default_argument_parser
from vitdet_bench.engine.launch import launch_main

DESCRIPTION = """\
Train and evaluate a vitdet_bench detector from a LazyConfig (.py) file: detectron2's
training loop with exact resume, atomic checkpoints and a COCO + TIDE report at the end.
Flags come first; everything after the first key=value is read as a config override
(LazyConfig "path.key=value", hydra grammar: null, true/false, [a,b], 'quoted str')."""

EPILOG = """\
examples:
  # the 10-minute CPU demo (synthetic shapes), then a 30-iteration smoke run
  %(prog)s --config-file configs/demo/vit_tiny_shapes.py
  %(prog)s --config-file configs/demo/vit_tiny_shapes.py train.max_iter=30 \\
      train.warmup_iters=3 train.output_dir=output/smoke
  # fine-tune from MAE weights on 8 GPUs; schedule in epochs (train.max_iter=N needs
  # train.epochs=null); train.image_size=512 runs at 512 px (mappers, padding, ViT)
  %(prog)s --config-file configs/mae_vitb_mrcnn.py --num-gpus 8 \\
      train.init_checkpoint=pretrained/mae_pretrain_vit_base.pth train.epochs=25
  # continue an interrupted run (a finished one is left as it is)
  %(prog)s --config-file configs/mae_vitb_mrcnn.py --resume
  # evaluate a trained detector (on 16 coco128 images) / re-evaluate a run's last checkpoint
  %(prog)s --config-file configs/mae_vitb_mrcnn.py --eval-only \\
      train.init_checkpoint=output/mae_vitb_mrcnn/model_final.pth train.init_format=detectron2 \\
      dataloader.test.dataset.names=coco128_first16
  %(prog)s --config-file configs/mae_vitb_mrcnn.py --eval-only --resume

outputs (train.output_dir): log.txt, config.yaml, metrics.json, TensorBoard events
(tensorboard --logdir DIR), model_*.pth + last_checkpoint, report.json and
inference/ (report.md, charts, detectron2's results).
exit codes: 0 done; 2 configuration or checkpoint error; 1 bad data or a diverged run.
"""

HELP = {
    "config_file": "LazyConfig .py file, e.g. configs/mae_vitb_mrcnn.py (required)",
    "resume": "continue from train.output_dir's last_checkpoint (same optimizer, scheduler, data "
              "stream and RNG state); a finished run is reported as finished and left as it is. "
              "With --eval-only: evaluate that last checkpoint",
    "eval_only": "evaluate only: the detector in train.init_checkpoint (a detectron2 checkpoint), "
                 "or with --resume the run's last checkpoint; no weights is an error unless "
                 "train.eval_untrained=True. Only the evaluation's dataset must be on disk",
    "num_gpus": "processes per machine: GPUs, or CPU processes (gloo) without CUDA",
    "opts": "config overrides path.key=value, after all flags, e.g. train.max_iter=100 "
            "optimizer.lr=1e-4 'dataloader.train.dataset.names=coco128_train'",
}


def build_parser():
    """detectron2's ``default_argument_parser`` (same flags), described for this tool."""
    parser = default_argument_parser(epilog=EPILOG)
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for action in parser._actions:
        if action.dest in HELP:
            action.help = HELP[action.dest]
    return parser


def cli(argv=None):
    launch_main(build_parser().parse_args(argv))


if __name__ == "__main__":
    cli()
