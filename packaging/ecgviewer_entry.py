"""Entry script of the packaged app (PyInstaller): the same ``main`` as the ``ecgviewer`` command."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a no-op unless a library starts worker processes
    from ecgviewer.cli import main

    sys.exit(main())
