"""``python -m vcfmeasure``: the command line (see :mod:`vcfmeasure.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":  # not when a test runner imports this module
    sys.exit(main())
