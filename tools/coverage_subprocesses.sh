#!/bin/sh
# Line coverage including the code that runs only in subprocesses: `itsm serve ssh` (remote/
# ssh_server.py, remote/pty_session.py) and `itsm serve web` are started by their tests as
# processes of their own, which a plain `coverage run -m pytest` cannot see. coverage.py's
# subprocess support (`patch = subprocess`, coverage >= 7.10) measures every Python process the
# tests start, each into its own data file, and `coverage combine` merges them.
#
# Optional, for developers: `pip install coverage` first (it is not a test dependency, and the
# normal test run never uses it). Usage: tools/coverage_subprocesses.sh [PYTEST ARGS...]
# (default: the serve tests). A process ended by SIGKILL (or a desk hung up with SIGHUP) saves
# nothing; the servers stop on SIGTERM, which they handle, so theirs is saved.
set -eu
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
cat > "$work/coveragerc" <<RC
[run]
source = itsm_tui
parallel = true
patch = subprocess
data_file = $work/.coverage
RC
export COVERAGE_RCFILE="$work/coveragerc"
[ "$#" -gt 0 ] || set -- tests/test_serve_ssh.py tests/test_serve_web.py
python -m coverage run -m pytest -q -p no:cacheprovider "$@" || status=$?
python -m coverage combine -q
python -m coverage report --show-missing \
    --include='*/itsm_tui/remote/*,*/itsm_tui/cli_serve*.py'
echo "data: $work/.coverage"
exit "${status:-0}"
