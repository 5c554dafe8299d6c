"""``python -m hydra_plugins.hydra_python_sweeper``: the sweeper's commands
(:mod:`hydra_python_sweeper.commands.cli`).

Hydra imports this module when it discovers plugins: it does nothing unless run.
"""

if __name__ == "__main__":
    import sys

    from hydra_python_sweeper.commands.cli import main

    sys.exit(main())
