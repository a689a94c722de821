"""Allow `python -m itsm_tui` as an alternative to the `itsm` console script."""

from itsm_tui.cli import main

raise SystemExit(main())
