"""Shared pytest setup: a throw-away artifact store and no progress bars for the whole session."""
import pytest

@pytest.fixture(scope='session', autouse=True)
def vu_env(tmp_path_factory):
    "Point $VU_CACHE at a temporary folder and silence progress bars (`VU_PROGRESS=0`) for every test."
    mp = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp('vu_cache')
    mp.setenv('VU_CACHE', str(cache))
    mp.setenv('VU_PROGRESS', '0')
    yield cache
    mp.undo()
