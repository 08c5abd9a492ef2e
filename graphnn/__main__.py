"""`python -m graphnn`: see graphnn/cli/."""

import sys

from graphnn.cli import main

sys.exit(main())
