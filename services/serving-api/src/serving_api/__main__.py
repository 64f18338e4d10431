from serving_api.cli import main

raise SystemExit(main())
