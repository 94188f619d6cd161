"""A test-set mapper for the final-evaluation signal tests (importable from configs)."""
import os
import signal
import time


class SignalDuringEvaluation:
    """``mapper``, plus: at the ``at``-th image, send ``signal_name`` to this process (a
    scheduler signal landing mid-evaluation; None: never), and take ``seconds`` per image
    (an evaluation long enough for a signal from outside to land in it)."""

    def __init__(self, mapper, at=None, signal_name="SIGUSR2", seconds=0.0):
        self.mapper, self.at, self.signal_name, self.seconds = mapper, at, signal_name, seconds
        self.calls = 0

    def __call__(self, dataset_dict):
        self.calls += 1
        if self.at is not None and self.calls == int(self.at):
            os.kill(os.getpid(), getattr(signal, self.signal_name))
        if self.seconds:
            time.sleep(float(self.seconds))
        return self.mapper(dataset_dict)
