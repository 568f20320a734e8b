"""Entry point: ``python -m nqs_dilated.ed``, the same as ``nqs-dilated ed`` (see :mod:`nqs_dilated.cli.ed`)."""

import sys

from ..cli.ed import main

if __name__ == "__main__":
    sys.exit(main())
