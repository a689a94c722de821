#!/bin/sh
# Re-resolves requirements/app.lock and requirements/test.lock from pyproject.toml's ranges to
# the newest releases on PyPI (README: "Dependencies and the lock file"). The test lock is
# constrained by the app lock, so the tests always run on exactly the versions users install.
# Needs uv (`pip install uv`; it is a tool, not a dependency of itsm-tui).
set -eu
cd "$(dirname "$0")/.."
# --no-config and the explicit index: this machine's pip/uv settings never leak into the lock.
set -- --quiet --upgrade --generate-hashes --universal --python-version 3.11 --no-config \
    --index-url https://pypi.org/simple --custom-compile-command "requirements/refresh.sh"
uv pip compile "$@" pyproject.toml requirements/build.in --extra postgres \
    -o requirements/app.lock
uv pip compile "$@" pyproject.toml requirements/build.in --extra test --extra postgres \
    -c requirements/app.lock -o requirements/test.lock
