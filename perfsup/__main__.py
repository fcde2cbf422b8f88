"""`python -m perfsup` is the same as the `perfsup` console script."""

from perfsup.cli import main

raise SystemExit(main())
