"""hydra-python-sweeper: Hydra sweeps defined by Python functions, streamed lazily."""

__version__ = "0.5.0"
