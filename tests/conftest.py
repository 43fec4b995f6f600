"""Shared pytest setup: a throw-away artifact store and no progress bars for the whole session."""
import pytest

@pytest.fixture(scope='session', autouse=True)
def vu_env(tmp_path_factory):
    "Point $VU_CACHE at a temporary folder, silence progress bars (`VU_PROGRESS=0`) and keep the Hub offline for every test."
    mp = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp('vu_cache')
    mp.setenv('VU_CACHE', str(cache))
    mp.setenv('VU_PROGRESS', '0')
    mp.setenv('HF_HUB_OFFLINE', '1')   # no test reaches for the Hugging Face Hub unless it patches the client
    yield cache
    mp.undo()
