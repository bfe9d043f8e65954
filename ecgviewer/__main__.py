import sys

from ecgviewer.cli import main

sys.exit(main())
