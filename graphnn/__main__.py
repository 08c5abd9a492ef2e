"""`python -m graphnn`: see graphnn/cli.py."""

import sys

from graphnn.cli import main

sys.exit(main())
