"""Training engine: device selection, atomic checkpoints, exact resume, evaluation.

Public API::

    run(cfg, resume=False, eval_only=False) -> dict   # train (and evaluate) per the config
    read_settings(cfg, training=True) -> RunSettings  # the keys run() reads, resolved once
    do_test(cfg, model, output_dir) -> dict           # vitdet_bench.evaluation.evaluate
    select_device(requested) -> str
    check_schedule(cfg, max_iter); check_eval_only_weights(cfg, resume)  # ConfigError
    seed_everything(seed)
    AtomicCheckpointer, get_rng_state, set_rng_state
    NonFiniteLossError; errors.is_user_error / user_error_message (one-paragraph errors)
"""
from .checkpoint import AtomicCheckpointer, get_rng_state, set_rng_state
from .errors import ConfigError
from .hooks import MetricsWriter, NonFiniteLossError, VitdetEvalHook
from .settings import RunSettings, read_settings
from .trainer import (
    DEFAULT_SEED,
    check_eval_only_weights,
    check_schedule,
    compute_max_iter,
    do_test,
    run,
    save_config,
    seed_everything,
    select_device,
)

__all__ = ["AtomicCheckpointer", "ConfigError", "get_rng_state", "set_rng_state",
           "NonFiniteLossError", "VitdetEvalHook", "MetricsWriter", "RunSettings",
           "read_settings", "DEFAULT_SEED", "check_eval_only_weights", "check_schedule",
           "compute_max_iter", "do_test", "run", "save_config", "seed_everything",
           "select_device"]
