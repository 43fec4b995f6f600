#!/usr/bin/env bash
# Optional visual check of the docs site, as a reader sees it: headless Chromium screenshots of the home page and of
# stage pages, written to _build/screenshots/ for a person to look at. Installs chromium (a large Debian package)
# through tools/install.sh --with-chromium. Builds the site first (--no-exec) if _site/ is missing.
# Usage: bash tools/check_site.sh [page.html ...]     (default: index.html and the first stage page)
#   VU_SHOT_SIZE=1400,2000  window size of the screenshots
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/install.sh --with-chromium
[ -f _site/index.html ] || .venv/bin/python tools/build_site.py --src nbs --out _site --no-readme
pages=("$@")
if [ ${#pages[@]} -eq 0 ]; then
  first=$(.venv/bin/python -c "import sys; sys.path.insert(0, 'tools'); import build_site as b; \
print(next((b.page_file(p) for p in b.notebooks('nbs') if p.stem != 'index'), ''))")
  pages=(index.html ${first})
fi
out=_build/screenshots; mkdir -p "$out"
for page in "${pages[@]}"; do
  [ -f "_site/$page" ] || { echo "check_site.sh: no _site/$page" >&2; exit 1; }
  png="$out/${page%.html}.png"
  profile=$(mktemp -d)
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
    --window-size="${VU_SHOT_SIZE:-1400,2000}" --screenshot="$png" "file://$PWD/_site/$page" >/dev/null 2>&1 || true
  rm -rf "$profile"
  # A screenshot that is missing or almost one colour means the page did not render.
  .venv/bin/python - "$png" <<'PY'
import sys
from PIL import Image
p = sys.argv[1]
try: im = Image.open(p).convert('L')
except Exception as e: sys.exit(f"check_site.sh: no screenshot {p}: {e}")
lo, hi = im.getextrema()
if hi - lo < 40: sys.exit(f"check_site.sh: {p} is blank (grey levels {lo}..{hi})")
print(f"check_site.sh: {p} ({im.width}x{im.height})")
PY
done
echo "check_site.sh: look at the screenshots in $out/"
