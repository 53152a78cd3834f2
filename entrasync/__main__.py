from entrasync.cli import main

raise SystemExit(main())
