from kfexplorer.cli import main

raise SystemExit(main())
