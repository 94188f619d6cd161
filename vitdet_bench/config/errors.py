"""The error of a configuration or command line the user must fix.

Defined here, below everything that raises it (the pre-flight checks of this package
and the engine); ``vitdet_bench.engine.errors`` re-exports it.
"""


class ConfigError(ValueError):
    """A configuration or command line the user must fix (tools/train_net.py exits with 2).

    Raised by the pre-flight checks before anything heavy is built, and by the few
    checks that can only run once the training set is known (an epoch schedule).
    """
