"""Loading a LazyConfig for a run, and every check that can be made before anything is built.

Public API::

    load_config(path, overrides, *, resume=False, eval_only=False) -> cfg   # ConfigError
    preview_config(path, overrides, *, resume=False) -> (cfg, missing files)
    compute_max_iter(cfg, num_train_images); apply_warmup_iters(cfg, max_iter)
    check_schedule(cfg, max_iter); check_eval_only_weights(cfg, resume)
    ConfigError

The individual checks (overrides, datasets and their files, classes, attention
strategies, the training sampler, coupled input sizes, init checkpoint, schedule) are
importable from :mod:`.checks`, :mod:`.overrides` and :mod:`.schedule`. Nothing here
builds a model or reads a dataset.
"""
from .checks import (MissingFile, check_attention_strategies, check_command_line, check_dataset_files,
                     check_datasets, check_init_checkpoint, check_num_classes, check_train_sampler,
                     dataset_names)
from .errors import ConfigError
from .load import load_config, preview_config
from .overrides import (OPTIONAL_KEYS, apply_image_size, check_image_size, check_overrides,
                        check_schedule_overrides, image_size_entries)
from .schedule import (apply_warmup_iters, check_eval_only_weights, check_schedule,
                       check_schedule_before_building, compute_max_iter)

__all__ = ["ConfigError", "MissingFile", "load_config", "preview_config", "OPTIONAL_KEYS", "check_overrides",
           "check_schedule_overrides", "apply_image_size", "check_image_size",
           "image_size_entries", "check_command_line", "dataset_names", "check_datasets",
           "check_dataset_files", "check_num_classes", "check_attention_strategies",
           "check_train_sampler",
           "check_init_checkpoint", "compute_max_iter", "apply_warmup_iters", "check_schedule",
           "check_schedule_before_building", "check_eval_only_weights"]
