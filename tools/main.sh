#!/usr/bin/env bash
# The main job: install, run the cross-metric report on the default settings (`vision-unlearning run`: every method
# judged by every metric on the same models, offline), then build the docs site with the report embedded.
# Usage: bash tools/main.sh [--notebooks] [--no-bench] [--no-run]
#   --notebooks  also run every notebook (slow cells included) on real data into _build/nbs, and every script in
#                benchmarks/, and build the site from those executed copies (about 70 min more with an empty cache)
#   --no-bench   with --notebooks: do not run benchmarks/*.py
#   --no-run     do not run the report (the site shows the one a previous run left in _build/report, if any)
# Extra options for the report go in $VU_RUN_ARGS, e.g. VU_RUN_ARGS="--settings all --n-models 16".
# Offline once tools/install.sh has run. Products are cached in $VU_CACHE (default ~/.cache/vision_unlearning).
# A failing stage does not stop the others: every stage that can run runs, the site is built from what ran (a failed
# page says so, and where), and the job then exits 1 with one line per failed stage.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$EPOCHREALTIME
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{s=b-a; printf "%d min %02d s", s/60, s%60}'; }
exec_nbs=0; bench=1; run=1
for a in "$@"; do
  case "$a" in
    --notebooks) exec_nbs=1 ;;
    --no-bench) bench=0 ;;
    --no-run) run=0 ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) echo "main.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

bash tools/install.sh || { echo "main.sh: FAILED install (tools/install.sh); nothing else was run" >&2; exit 1; }
PY=.venv/bin/python
export VU_PROGRESS="${VU_PROGRESS:-0}"
echo "main.sh: cache in ${VU_CACHE:-$HOME/.cache/vision_unlearning}"

rc=0 src=nbs summary=""
if [ "$run" = 1 ]; then
  t=$EPOCHREALTIME
  mkdir -p _build
  # shellcheck disable=SC2086
  if .venv/bin/vision-unlearning run --out _build/report ${VU_RUN_ARGS:-}; then
    echo "main.sh: report done ($(elapsed "$t")): _build/report/report.html"
  else
    rc=1; summary="$summary"$'\n'"main.sh: FAILED report (vision-unlearning run)"
  fi
fi
if [ "$exec_nbs" = 1 ]; then
  t=$EPOCHREALTIME
  opts=(--out _build/nbs); [ "$bench" = 1 ] && opts+=(--bench)
  mkdir -p _build
  $PY tools/run_notebooks.py "${opts[@]}" | tee _build/stages.log
  r=${PIPESTATUS[0]}; [ "$r" != 0 ] && rc=$r
  summary="$summary"$'\n'"$(grep '^run_notebooks: FAILED' _build/stages.log || true)"
  echo "main.sh: stages done ($(elapsed "$t"))"
  src=_build/nbs
fi

t=$EPOCHREALTIME
if $PY tools/build_site.py --src "$src" --out _site --report-dir _build/report; then
  echo "main.sh: site built ($(elapsed "$t")); open file://$PWD/_site/index.html"
else
  rc=1; summary="$summary"$'\n'"main.sh: FAILED site build (tools/build_site.py)"
fi
echo "main.sh: total $(elapsed "$t0")"
if [ "$rc" != 0 ]; then
  echo "main.sh: the job FAILED; failed stages:"
  printf '%s\n' "$summary" | sed '/^$/d; s/^run_notebooks: /  /'
  exit 1
fi
echo "main.sh: every stage passed"
