"""Entry point: ``python -m nqs_dilated.fit``, an alias of ``nqs-dilated sign`` (see :func:`nqs_dilated.cli.main.fit_main`)."""

import sys

from .cli.main import fit_main as main

if __name__ == "__main__":
    sys.exit(main())
