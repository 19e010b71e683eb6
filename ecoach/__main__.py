from ecoach.cli import main

raise SystemExit(main())
