"""Entry point of the packaged (PyInstaller) build: the `kfexplorer` command line, `gui` by default when windowed.

freeze_support() must run first: the DICOM decode pool spawns worker processes, which re-enter this script.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from kfexplorer.cli import main

    sys.exit(main())
