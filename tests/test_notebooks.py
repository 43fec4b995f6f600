"""Each stage notebook in nbs/ as one pytest test, run the way `nbdev_test` runs it (`nbdev.test.test_nb`).

Cells flagged with a settings.ini `tst_flags` flag (`#| slow`, `#| cuda`) are skipped unless listed in $VU_TEST_FLAGS,
e.g. `VU_TEST_FLAGS="slow"`. Each notebook runs in its own Python process, so no state (the default artifact store,
seeds, imported modules) leaks from one notebook into the next; all of them share the session's temporary cache.
This is the only place the notebooks are tested (tools/test.sh no longer runs `nbdev_test` as well): each runs once,
counted in pytest's summary. A notebook whose code uses torch is marked `numerics` (see conftest.py).
"""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if p.stem != 'index' and not p.name.startswith(('_', '.')))

# nbdev.test is imported as a module (never `from nbdev.test import test_nb`, which pytest would collect as a test).
_RUN = """
import sys
from pathlib import Path
import nbdev.test
from nbdev.config import get_config
nb, root = Path(sys.argv[1]), Path(sys.argv[2])
ok, secs = nbdev.test.test_nb(nb, skip_flags=get_config(path=root).tst_flags.split(), force_flags=sys.argv[3].split(),
                              basepath=root)
sys.exit(0 if ok else 1)
"""

def test_there_are_notebooks():
    assert NOTEBOOKS, f"no stage notebooks found in {ROOT/'nbs'}"

def _param(nb:Path):
    "The notebook as a test case, marked `numerics` when a code cell uses torch."
    code = '\n'.join(''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code')
    return pytest.param(nb, id=nb.stem, marks=[pytest.mark.numerics] if 'torch' in code else [])

@pytest.mark.parametrize('nb', [_param(p) for p in NOTEBOOKS])
def test_notebook(nb):
    flags = os.environ.get('VU_TEST_FLAGS', '')
    r = subprocess.run([sys.executable, '-c', _RUN, str(nb), str(ROOT), flags], cwd=ROOT, capture_output=True, text=True)
    if r.returncode: pytest.fail(f"{nb.name} failed under nbdev's test_nb (flags run: {flags!r}):\n{r.stderr[-6000:]}",
                                 pytrace=False)
