import sys

from hearpipe.cli import main

sys.exit(main())
