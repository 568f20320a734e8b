"""Entry point: ``python -m nqs_dilated.fit`` (see :mod:`nqs_dilated.cli.fit`)."""

import sys

from .cli.fit import main

if __name__ == "__main__":
    sys.exit(main())
