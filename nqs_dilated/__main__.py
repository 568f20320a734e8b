"""Entry point: ``python -m nqs_dilated``, the same as ``nqs-dilated`` (see :mod:`nqs_dilated.cli.main`)."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
