#!/usr/bin/env python
"""Convert a checkpoint to safetensors, once: then it loads without unpickling anything.

    python tools/convert_checkpoint.py IN OUT.safetensors [--trust-checkpoint]

IN is any file the loaders read (.pth / .pth.tar / .pt / .pkl / .safetensors). The tensors
the loaders use go into OUT.safetensors; the wrapper (``model`` / ``state_dict`` / ...) and
the plain-data entries (``args``, ``epoch``, ``__author__`` ...) go into its JSON metadata,
so OUT loads exactly as IN (same format, same load report, bit-identical tensors).
Training state holding tensors outside the model (an optimizer) is left out and listed.
``--trust-checkpoint`` reads a file that needs more than the safe reader allows with the
full unpickler (only for a file from a source you trust). Exit status 1 with the error.
"""
import argparse
import sys

import vitdet_bench  # noqa: E402,F401  (before detectron2)

from vitdet_bench.checkpoint import CheckpointError  # noqa: E402
from vitdet_bench.checkpoint.convert import convert_to_safetensors  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="checkpoint file to convert")
    ap.add_argument("output", help="the .safetensors file to write")
    ap.add_argument("--trust-checkpoint", action="store_true",
                    help="read a file the safe reader refuses with the full unpickler "
                         "(it can run code from the file: only for a file you trust)")
    args = ap.parse_args(argv)
    try:
        summary = convert_to_safetensors(args.input, args.output, trust=args.trust_checkpoint,
                                         trust_option="--trust-checkpoint")
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
