"""Measurement: FLOPs (one counting method), timing cells, peak memory, synthetic inputs.

Used by ``tools/benchmark.py`` (attention strategies x sizes x paths), ``tools/complexity.py``
(the model-complexity table) and the projects' comparison tools; each is a command line
over these functions.
"""
from .cells import (BENCHMARK_OPTIONS, REFERENCE, BenchmarkOptionError, aggregate, benchmark_cell,
                    build_benchmark_model, complexity_cell, configure_backbone, is_out_of_memory,
                    relative_to_reference, report_cell, run_cell_subprocess)
from .flops import (IGNORED_OPS, DetectorForTracing, FlopCount, calibrate_batchnorm,
                    count_backbone_flops, count_detector_flops, count_flops, detector_flops, keep_all_detections,
                    restore_thresholds, sdpa_flop_handle, traceable_attention)
from .inputs import synthetic_batch
from .memory import limit_address_space, peak_gb, reset_peak
from .tables import COMPLEXITY_COLUMNS, benchmark_table, complexity_table, format_relative
from .timing import AMP_DTYPES, CellSettings, measure_model

__all__ = [k for k in globals() if not k.startswith("_")]
