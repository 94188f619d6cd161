"""Errors that are the user's to fix, and how they are shown: one paragraph, no traceback.

A bad configuration (:class:`ConfigError`, exit code 2), bad data
(:class:`vitdet_bench.data.DataError`), a bad checkpoint
(:class:`vitdet_bench.checkpoint.CheckpointError`), bad evaluation inputs
(:class:`vitdet_bench.evaluation.EvaluationInputError`) and a diverged run
(:class:`NonFiniteLossError`) carry messages that name the file, image,
annotation or iteration; a traceback adds nothing but noise. ``tools/train_net.py``
prints :func:`user_error_message` and exits non-zero; detectron2's
"Exception during training" log line gets the same one-line treatment
(:func:`install_user_error_log_filter`). Any other exception is a bug and keeps
its traceback.
"""
from __future__ import annotations

import logging
import re
from typing import Tuple, Type

from vitdet_bench.config.errors import ConfigError

__all__ = ["ConfigError", "NonFiniteLossError", "user_error_types", "is_user_error", "user_error_message",
           "install_user_error_log_filter"]


class NonFiniteLossError(FloatingPointError):
    """Raised when a loss term is NaN/inf; nothing is checkpointed for that iteration."""


def user_error_types() -> Tuple[Type[BaseException], ...]:
    from vitdet_bench.checkpoint import CheckpointError
    from vitdet_bench.data.validate import DataError
    from vitdet_bench.evaluation.inputs import EvaluationInputError

    return (ConfigError, DataError, CheckpointError, EvaluationInputError, NonFiniteLossError)


def is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, user_error_types())


_WORKER_WRAP = re.compile(r"^Caught \w+ in DataLoader worker process \d+\.\s*\n"
                          r"Original Traceback \(most recent call last\):\n", re.S)


def user_error_message(exc: BaseException) -> str:
    """The exception's own message, without a DataLoader worker's embedded traceback.

    torch re-raises a worker's exception as ``type(exc)(text)`` where ``text`` is
    "Caught X in DataLoader worker process N. Original Traceback ... X: <message>";
    the original message is what follows the last ``<module>.X: `` line.
    """
    text = str(exc)
    if _WORKER_WRAP.match(text):
        name = type(exc).__name__
        marker = re.compile(rf"^(?:[\w.]+\.)?{re.escape(name)}: ", re.M)
        hits = list(marker.finditer(text))
        if hits:
            text = text[hits[-1].end():]
    return " ".join(text.split())  # one paragraph


class _UserErrorLogFilter(logging.Filter):
    """detectron2 logs ``logger.exception("Exception during training:")``: for user
    errors keep the line, add the message, drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and is_user_error(exc):
            record.msg = f"{record.getMessage()} {type(exc).__name__}: {user_error_message(exc)}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def install_user_error_log_filter(logger_name: str = "detectron2.engine.train_loop") -> None:
    log = logging.getLogger(logger_name)
    if not any(isinstance(f, _UserErrorLogFilter) for f in log.filters):
        log.addFilter(_UserErrorLogFilter())
