"""Entry point: ``python -m nqs_dilated.fit``, an alias of ``nqs-dilated sign`` (see :mod:`nqs_dilated.cli.fit`)."""

import sys

from .cli.fit import main

if __name__ == "__main__":
    sys.exit(main())
