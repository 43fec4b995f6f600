"""Shared pytest setup: a throw-away artifact store, no progress bars, an offline Hub, and the `numerics` marker.

`numerics` marks every test that trains or compares float results computed by torch: the tests whose module (or
notebook) uses torch. `tools/test.sh --kernels default` reruns exactly these under `ATEN_CPU_CAPABILITY=default`, where
torch's kernels (and so float32 results) differ from the native path.
"""
from functools import cache
from pathlib import Path
import pytest

def pytest_configure(config):
    config.addinivalue_line('markers', 'numerics: trains models or compares float results computed by torch kernels')

@cache
def _uses_torch(path:Path)->bool: return 'import torch' in path.read_text() or 'from torch' in path.read_text()

def pytest_collection_modifyitems(config, items):
    "Mark torch-using test modules `numerics`, and keep each module's tests on one xdist worker (module fixtures)."
    for item in items:
        if item.path.name == 'test_notebooks.py': continue        # each notebook is its own unit (marked there)
        if _uses_torch(item.path): item.add_marker(pytest.mark.numerics)
        item.add_marker(pytest.mark.xdist_group(item.path.stem))

@pytest.fixture(scope='session', autouse=True)
def vu_env(tmp_path_factory):
    "Point $VU_CACHE at a temporary folder, silence progress bars, one zoo worker, and keep the Hub offline for every test."
    mp = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp('vu_cache')
    mp.setenv('VU_CACHE', str(cache))
    mp.setenv('VU_PROGRESS', '0')
    mp.setenv('VU_WORKERS', '1')       # zoos make their chunks in-process (xdist already fills the cores)
    mp.setenv('HF_HUB_OFFLINE', '1')   # no test reaches for the Hugging Face Hub unless it patches the client
    yield cache
    mp.undo()
