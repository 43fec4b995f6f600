#!/usr/bin/env bash
# What tests/test_explorers.py (the explorers in JupyterLab, in headless Chromium) needs beyond tools/install.sh:
#   - Debian's chromium (apt-get, as root or with password-less sudo), unless /usr/bin/chromium exists;
#   - playwright's Python package, in a venv of its own (default ~/.cache/vision_unlearning/playwright_venv, or
#     $VU_PLAYWRIGHT_VENV), kept apart from the project's .venv. Never `playwright install`: it downloads a browser.
# Idempotent and fast when both are there. It never fails the caller: what cannot be installed is said, and the test
# then skips, saying why. tools/test.sh (the README's test command) and .ci/run call it.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${VU_PLAYWRIGHT_VENV:-$HOME/.cache/vision_unlearning/playwright_venv}"

# 1. chromium
if [ -x /usr/bin/chromium ]; then
  echo "install_browser_test.sh: chromium already installed"
else
  if [ "$(id -u)" = 0 ]; then SUDO=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"
  else SUDO="none"
  fi
  if [ "$SUDO" = none ]; then
    echo "install_browser_test.sh: chromium is missing and I am neither root nor allowed password-less sudo;" \
         "the browser test will be skipped. As root: apt-get install -y chromium" >&2
  else
    $SUDO apt-get update -qq || echo "install_browser_test.sh: apt-get update failed; trying the current lists" >&2
    if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium </dev/null; then
      echo "install_browser_test.sh: chromium installed"
    else
      echo "install_browser_test.sh: could not install chromium; the browser test will be skipped" >&2
    fi
  fi
fi

# 2. playwright, in its own venv
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import playwright.sync_api' 2>/dev/null; then
  echo "install_browser_test.sh: playwright already in $venv"
elif { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } &&
     "$venv/bin/python" -m pip install -q 'playwright>=1.40,<2' </dev/null; then
  echo "install_browser_test.sh: playwright installed in $venv"
else
  echo "install_browser_test.sh: could not install playwright in $venv; the browser test will be skipped" >&2
fi
exit 0
