"""``python -m volts`` = the ``volts`` command."""

from volts.cli import main

raise SystemExit(main())
