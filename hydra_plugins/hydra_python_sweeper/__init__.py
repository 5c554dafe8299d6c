"""hydra-python-sweeper's Hydra plugin: a thin folder over :mod:`hydra_python_sweeper`."""

from hydra_python_sweeper.version import __version__

__all__ = ["__version__"]
