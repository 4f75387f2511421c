import sys

from hearpipe.train.cli import main

sys.exit(main())
