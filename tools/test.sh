#!/usr/bin/env bash
# The tests: install (tools/install.sh), then nbdev_test and pytest tests/. The last line is pytest's summary.
# Usage: bash tools/test.sh [--no-install] [extra pytest args]
#   VU_TEST_FLAGS="slow"  also run cells flagged `#| slow` (both in nbdev_test and in the per-notebook pytest tests)
# Exit status: non-zero if either nbdev_test or pytest failed (pytest's "no tests ran", exit 5, counts as failure).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
install=1
if [ "${1:-}" = "--no-install" ]; then install=0; shift; fi
if [ "$install" = 1 ]; then bash tools/install.sh || exit 1; fi
export VU_PROGRESS=0
flags="${VU_TEST_FLAGS:-}"

# nbdev_test: every notebook, in parallel (2 workers on 2 cores), with its own throw-away cache.
cache=$(mktemp -d -t vu_nbdev_test.XXXXXX)
trap 'rm -rf "$cache"' EXIT
t=$EPOCHREALTIME
VU_CACHE="$cache" .venv/bin/nbdev_test --flags "$flags" --n_workers "${VU_TEST_WORKERS:-2}" --timing
nbdev_rc=$?
awk -v a="$t" -v b="$EPOCHREALTIME" -v rc=$nbdev_rc \
  'BEGIN{printf "test.sh: nbdev_test %s in %.0f s\n", (rc==0 ? "passed" : "FAILED (exit " rc ")"), b-a}'

# pytest: each notebook as one counted test (tests/test_notebooks.py), plus the site and README tests.
.venv/bin/python -m pytest tests/ -q "$@"
pytest_rc=$?
[ "$pytest_rc" -ne 0 ] && exit "$pytest_rc"
exit "$nbdev_rc"
