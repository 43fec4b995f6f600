#!/usr/bin/env bash
# The tests: install (tools/install.sh), then pytest tests/ (every notebook once, as nbdev_test runs it, plus the
# library, site and README tests), on 2 workers. The last line is a plain "N passed, N failed" summary.
#
# Usage: bash tools/test.sh [--no-install] [--kernels PATHS] [extra pytest args]
#   --kernels PATHS  CPU kernel paths to test under, comma separated (default: native):
#                      native  torch's own choice for this CPU (AVX512 here)
#                      avx2    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2: the whole suite, as on an AVX2 machine
#                      default ATEN_CPU_CAPABILITY=default: only tests marked `numerics` (they train or compare floats)
#                      all     native,avx2,default (what .ci/run uses)
#   VU_TEST_FLAGS="slow"  also run cells flagged `#| slow` in the notebooks
#   VU_TEST_WORKERS=N     pytest-xdist workers (default 2; 0 runs in one process)
# tests/test_explorers.py drives the explorers in JupyterLab with headless Chromium: it needs chromium and playwright
# (tools/install_browser_test.sh installs them; this script and .ci/run run it) and is skipped, saying why, without them.
# float32 results differ bit for bit between kernel paths: a test that passes under one and fails under another asserts
# a trajectory, not a behaviour. Exit status: non-zero if any run failed or ran no test.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
install=1 kernels=native args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-install) install=0 ;;
    --kernels) kernels="${2:?--kernels needs a value}"; shift ;;
    --kernels=*) kernels="${1#*=}" ;;
    -h|--help) sed -n 2,17p "$0"; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done
[ "$kernels" = all ] && kernels=native,avx2,default
if [ "$install" = 1 ]; then bash tools/install.sh || exit 1; bash tools/install_browser_test.sh; fi
export VU_PROGRESS=0
reports=$(mktemp -d -t vu_test.XXXXXX)
trap 'rm -rf "$reports"' EXIT
workers=${VU_TEST_WORKERS:-2}
xdist=(); [ "$workers" != 0 ] && xdist=(-n "$workers" --dist loadgroup)

rc=0
for k in ${kernels//,/ }; do
  case "$k" in
    native)  env=() sel=() ;;
    avx2)    env=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2) sel=() ;;
    default) env=(ATEN_CPU_CAPABILITY=default) sel=(-m numerics) ;;
    *) echo "test.sh: unknown kernel path '$k'; choose from native, avx2, default, all" >&2; exit 2 ;;
  esac
  echo "== test.sh: kernel path '$k' ${env[*]:-} ${sel[*]:-}"
  t=$EPOCHREALTIME
  env "${env[@]}" VU_KERNEL_PATH="$k" .venv/bin/python -m pytest tests/ -q -p no:cacheprovider "${xdist[@]}" "${sel[@]}" \
    --junitxml="$reports/$k.xml" -o junit_suite_name="$k" "${args[@]}"
  r=$?
  awk -v a="$t" -v b="$EPOCHREALTIME" -v k="$k" -v r=$r \
    'BEGIN{printf "test.sh: kernel path %s: %s in %.0f s\n", k, (r==0 ? "passed" : "FAILED (pytest exit " r ")"), b-a}'
  [ $r -ne 0 ] && rc=$r
done
# One closing line over every kernel path (pytest's own line is printed per path above).
.venv/bin/python - "$reports" <<'PY' || rc=1
import sys, xml.etree.ElementTree as ET
from pathlib import Path
n = dict(passed=0, failed=0, skipped=0)
for f in sorted(Path(sys.argv[1]).glob('*.xml')):
    for s in ET.parse(f).getroot().iter('testsuite'):
        bad = int(s.get('failures', 0)) + int(s.get('errors', 0)); sk = int(s.get('skipped', 0))
        n['failed'] += bad; n['skipped'] += sk; n['passed'] += int(s.get('tests', 0)) - bad - sk
print(f"{n['passed']} passed, {n['failed']} failed, {n['skipped']} skipped")
sys.exit(1 if n['failed'] or not n['passed'] else 0)
PY
exit $rc
