"""`python -m ccgrad` runs the command-line interface."""

from ccgrad.cli import main

raise SystemExit(main())
