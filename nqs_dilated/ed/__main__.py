import sys

from ..cli.ed import main

sys.exit(main())
