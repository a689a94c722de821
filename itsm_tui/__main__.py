"""Allow `python -m itsm_tui` as an alternative to the `itsm` console script."""

from itsm_tui.warnings_policy import quiet_library_deprecations

quiet_library_deprecations()  # before the CLI's imports, which may already warn

from itsm_tui.cli import main  # noqa: E402

raise SystemExit(main())
