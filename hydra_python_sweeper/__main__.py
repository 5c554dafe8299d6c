"""``python -m hydra_python_sweeper``: the sweeper's commands (:mod:`.commands.cli`)."""

import sys

from hydra_python_sweeper.commands.cli import main

if __name__ == "__main__":
    sys.exit(main())
