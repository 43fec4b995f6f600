"""The explorers as a user meets them: JupyterLab on localhost, their notebook in headless Chromium (issue 18).

The fixture fills a store of its own with what the explorers read, small enough for a test (about 30 s on two idle cores):
the font identities, two NoMUS rows of `mucac_binary` (Original, SCRUB) and a recorded KLOM run, `explorer_test`
(300 Fashion-MNIST images, 3 models per role, 2 forget sets, 2 methods: 33 models of a fraction of a second each, not the default
run's 1,264 models and 14 minutes). It writes the notebook (`jlab_driver.write_notebook`: one explorer a cell, the
KLOM explorer opened without a run, the I-CARE answers in a scratch store through `icare_explorer(store=...)`), and
starts JupyterLab with `subprocess.Popen`. `jlab_driver.py` then drives it through playwright's Python package, in its
own venv, with Debian's chromium: it runs every cell, changes selections, checks that each output changes as it should,
and saves a screenshot of every step in `_build/explorer_screenshots/` (or `$VU_EXPLORER_SHOTS`).

Skipped, saying why, when chromium or playwright is absent (`bash tools/install_browser_test.sh` installs both;
`.ci/run` does), and on the emulated kernel paths of `tools/test.sh` (the explorers' UI does not depend on them).
"""
import json, os, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

import jlab_driver as drv

ROOT = Path(__file__).resolve().parents[1]
PLAYWRIGHT_VENV = Path(os.environ.get('VU_PLAYWRIGHT_VENV', '~/.cache/vision_unlearning/playwright_venv')).expanduser()
SHOTS = Path(os.environ.get('VU_EXPLORER_SHOTS', ROOT/'_build'/'explorer_screenshots'))
TOKEN = 'vu-test-token'

def _driver_python()->str|None:
    "A Python that imports playwright: the browser-test venv's, else this one's; None if neither does."
    for py in (PLAYWRIGHT_VENV/'bin'/'python', Path(sys.executable)):
        if py.exists() and subprocess.run([str(py), '-c', 'import playwright.sync_api'], capture_output=True).returncode == 0:
            return str(py)
    return None

def _skip_reason()->str|None:
    "Why this machine cannot run the browser test, or None."
    if os.environ.get('VU_KERNEL_PATH', 'native') != 'native':
        return f"the explorers are tested once, on the native kernel path (this is {os.environ['VU_KERNEL_PATH']!r})"
    install = "run `bash tools/install_browser_test.sh` (as root for the Debian package)"
    if not os.access(drv.CHROMIUM, os.X_OK): return f"no chromium at {drv.CHROMIUM}: {install}"
    if _driver_python() is None: return f"playwright is not installed (looked in {PLAYWRIGHT_VENV}): {install}"
    return None

# What the explorers read, made in the store the kernel will use (a subprocess: $VU_CACHE is that store).
_FILL_STORE = f"""
import warnings
from vision_unlearning.data import load_font_identities
from vision_unlearning.experiments.klom_fmnist import KlomSetting, klom_benchmark
from vision_unlearning.experiments.mufac import SETTINGS, run_method, setting_data
from vision_unlearning.experiments.setting import ForgetSetSpec, MethodSpec
from vision_unlearning.models import CNNConfig
from vision_unlearning.unlearning import RetrainConfig
warnings.simplefilter('ignore')   # the cold store's training warning: expected here
load_font_identities()
s = SETTINGS['mucac_binary']; d = setting_data(s)
for label in ('Original', 'SCRUB'): run_method(s, label, data=d)
setting_data(SETTINGS['mucac_multilabel'])
klom_benchmark(KlomSetting(name={drv.KLOM_SETTING!r}, n_train=300, n_val=100, model=CNNConfig(widths=(4,)),
                           recipe=RetrainConfig(epochs=2, lr=0.05, batch_size=64, milestones=()),
                           forget_sets=(ForgetSetSpec(name='random_20', builder='random', params=dict(size=20)),
                                        ForgetSetSpec(name='nn_30', builder='nearest_neighbours',
                                                      params=dict(k=30, anchor=6))),
                           methods=(MethodSpec(label='Fine-tuning', method='finetune'),
                                    MethodSpec(label='SCRUB', method='scrub'))), n=3)
"""

def _free_port()->int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _n_models(store:Path)->int: return len(list(store.glob('model/*/*/meta.json')))

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "JupyterLab on localhost serving the explorers' notebook, its kernel on a store filled for it; stopped afterwards."
    if reason := _skip_reason(): pytest.skip(reason)
    d = tmp_path_factory.mktemp('jlab'); cache, scratch = d/'vu_cache', d/'icare_store'
    env = dict(os.environ, VU_CACHE=str(cache), VU_PROGRESS='0', VU_WORKERS='1', HF_HUB_OFFLINE='1')
    drv.write_notebook(str(d/'explore.ipynb'), str(scratch))
    news = d/'lab-settings'/'@jupyterlab'/'apputils-extension'   # no "Jupyter news?" toast over the screenshots
    news.mkdir(parents=True); (news/'notification.jupyterlab-settings').write_text('{"fetchNews": "false"}')
    env.update(JUPYTER_RUNTIME_DIR=str(d/'runtime'), JUPYTERLAB_SETTINGS_DIR=str(d/'lab-settings'),
               JUPYTERLAB_WORKSPACES_DIR=str(d/'lab-workspaces'), JUPYTER_CONFIG_DIR=str(d/'config'),
               JUPYTER_DATA_DIR=str(d/'data'), IPYTHONDIR=str(d/'ipython'))   # nothing from the user's own Jupyter
    port, log = _free_port(), open(d/'server.log', 'w')
    proc = subprocess.Popen([str(Path(sys.executable).parent/'jupyter-lab'), '--no-browser', '--allow-root',
                             '--ip=127.0.0.1', f'--port={port}', f'--IdentityProvider.token={TOKEN}',
                             f'--ServerApp.root_dir={d}', '--LabApp.news_url=None',
                             '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate'],
                            env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=d)
    try:   # the store is filled while the server starts (the kernel starts when the driver opens the notebook)
        t = time.time()
        r = subprocess.run([sys.executable, '-c', _FILL_STORE], env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"filling the explorers' store failed:\n{r.stderr[-3000:]}"
        filled = round(time.time() - t, 1)
        up = False
        for _ in range(120):
            if proc.poll() is not None: break
            try: urllib.request.urlopen(f'http://127.0.0.1:{port}/api/status?token={TOKEN}', timeout=2); up = True; break
            except OSError: time.sleep(0.5)
        if not up: pytest.fail(f"JupyterLab did not start (exit {proc.poll()}):\n{(d/'server.log').read_text()[-3000:]}")
        yield dict(url=f'http://127.0.0.1:{port}/lab/tree/explore.ipynb?reset&token={TOKEN}', dir=d, cache=cache,
                   scratch=scratch, filled=filled, models=_n_models(cache))
    finally:
        proc.terminate()                       # the server shuts its kernels down on SIGTERM
        try: proc.wait(30)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait(10)
        log.close()

def test_explorers_in_jupyterlab(lab, capsys):
    "Each explorer renders, opens on something, and its output changes as a user changes its selections."
    shutil.rmtree(SHOTS, ignore_errors=True)
    report = lab['dir']/'report.json'
    r = subprocess.run([_driver_python(), drv.__file__, '--url', lab['url'], '--shots', str(SHOTS),
                        '--report', str(report)], capture_output=True, text=True, timeout=480)
    assert report.exists(), f"the driver wrote no report (exit {r.returncode}):\n{r.stderr[-3000:]}"
    rep = json.loads(report.read_text())
    with capsys.disabled():
        print(f"\nexplorer screenshots: {SHOTS} ({len(rep['shots'])}); store filled in {lab['filled']} s; "
              f"timings (s): {rep['timings']}")
    assert not rep['problems'], f"{len(rep['problems'])} problem(s); screenshots in {SHOTS}:\n" + '\n'.join(rep['problems'])
    assert _n_models(lab['cache']) == lab['models'], "the notebook trained models: the KLOM explorer must read a stored run"
    assert sorted(p.name for p in lab['scratch'].glob('icare_rt_*')) == [
        'icare_rt_MetricMetricAlignment', 'icare_rt_SignificantRelationshipNumerical'], "icare answers not in the scratch store"
    assert not list(lab['cache'].glob('icare_rt_*')), "icare_explorer's compute wrote into the kernel's $VU_CACHE"
