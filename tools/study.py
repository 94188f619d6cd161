#!/usr/bin/env python
"""Run a whole study (many configs x axes) on SLURM through submitit, or on this machine:
``plan`` / ``launch`` / ``status`` / ``collect`` (see ``--help``; the command line lives in
:mod:`vitdet_bench.study.cli`)."""
import sys

import vitdet_bench  # noqa: F401  (compat patches before detectron2)
from vitdet_bench.study.cli import main

if __name__ == "__main__":
    sys.exit(main())
