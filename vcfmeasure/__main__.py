"""``python -m vcfmeasure``: the command line (see :mod:`vcfmeasure.cli`)."""

import sys

from .cli import main

sys.exit(main())
