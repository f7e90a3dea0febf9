"""Entry point of the packaged windowed launcher `kfexplorer-gui` (the same as `kfexplorer gui`)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from kfexplorer.cli import main

    sys.exit(main(["gui", *sys.argv[1:]]))
