"""``python -m hydra_plugins.hydra_python_sweeper``: the sweeper's commands (:mod:`._cli`).

Hydra imports this module when it discovers plugins: it does nothing unless run.
"""

if __name__ == "__main__":
    import sys

    from hydra_plugins.hydra_python_sweeper._cli import main

    sys.exit(main())
