#!/usr/bin/env bash
# The main job: install, run every notebook (slow cells included) on real data, run the benchmarks, build the site.
# Usage: bash tools/main.sh [--no-exec] [--no-bench]
#   --no-exec   build the site from the committed notebooks' saved outputs (fast; nothing is executed)
#   --no-bench  do not run benchmarks/*.py
# Offline once tools/install.sh has run. Products are cached in $VU_CACHE (default ~/.cache/vision_unlearning).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$EPOCHREALTIME
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{s=b-a; printf "%d min %02d s", s/60, s%60}'; }
exec_nbs=1; bench=1
for a in "$@"; do
  case "$a" in
    --no-exec) exec_nbs=0 ;;
    --no-bench) bench=0 ;;
    -h|--help) sed -n 2,6p "$0"; exit 0 ;;
    *) echo "main.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

bash tools/install.sh
PY=.venv/bin/python
export VU_PROGRESS="${VU_PROGRESS:-0}"
echo "main.sh: cache in ${VU_CACHE:-$HOME/.cache/vision_unlearning}"

if [ "$exec_nbs" = 1 ]; then
  t=$EPOCHREALTIME
  $PY tools/run_notebooks.py --out _build/nbs
  echo "main.sh: notebooks executed ($(elapsed "$t"))"
  src=_build/nbs
  if [ "$bench" = 1 ]; then
    mkdir -p _build/benchmarks
    for b in benchmarks/*.py; do
      [ -f "$b" ] && [[ "$(basename "$b")" != _* ]] || continue
      t=$EPOCHREALTIME
      echo "main.sh: running $b"
      $PY "$b" | tee "_build/benchmarks/$(basename "$b" .py).txt"
      echo "main.sh: $b done ($(elapsed "$t"))"
    done
  fi
else
  src=nbs
fi

t=$EPOCHREALTIME
$PY tools/build_site.py --src "$src" --out _site
echo "main.sh: site built ($(elapsed "$t"))"
echo "main.sh: open file://$PWD/_site/index.html"
echo "main.sh: total $(elapsed "$t0")"
