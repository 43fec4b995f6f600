"""The main job's stage runner (tools/run_notebooks.py): a failing stage does not hide the rest, the failed page says
so and where, the run ends with one line per failed stage and a non-zero exit, and stage times are kept."""
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _nb(path:Path, *sources:str):
    cells = [{'cell_type': 'markdown', 'metadata': {}, 'source': f'# {path.stem}\n> a test page'}]
    cells += [{'cell_type': 'code', 'metadata': {}, 'source': s, 'outputs': [], 'execution_count': None} for s in sources]
    path.write_text(json.dumps({'cells': cells, 'nbformat': 4, 'nbformat_minor': 5, 'metadata': {}}))

def _run(*args):
    return subprocess.run([sys.executable, str(ROOT/'tools'/'run_notebooks.py'), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True)

def test_failing_stage_does_not_hide_the_rest(tmp_path):
    src, out = tmp_path/'nbs', tmp_path/'build'/'nbs'
    src.mkdir()
    _nb(src/'01_good.ipynb', 'x = 1 + 1\nx')
    _nb(src/'02_bad.ipynb', 'y = 2', 'raise ValueError("planted failure")', 'print("never")')
    _nb(src/'03_after.ipynb', 'print("ran after the failure")')
    r = _run('--src', src, '--out', out)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == 'run_notebooks: FAILED 02_bad: cell 3 (`raise ValueError("planted failure")`): ValueError: planted failure', lines[-3:]
    assert 'run_notebooks: 2 of 3 stages ran cleanly' in r.stdout
    assert '[3/3] 03_after: ok' in r.stdout                      # the stage after the failure still ran
    after = json.loads((out/'03_after.ipynb').read_text())
    assert 'ran after the failure' in json.dumps(after['cells'][1]['outputs'])
    bad = json.loads((out/'02_bad.ipynb').read_text())
    banner = ''.join(bad['cells'][1]['source'])
    assert 'failed when the main job ran it' in banner and 'cell 3' in banner and 'planted failure' in banner
    times = json.loads((tmp_path/'build'/'stages.json').read_text())
    assert set(times) == {'01_good', '02_bad', '03_after'} and times['02_bad']['ok'] is False
    r2 = _run('--src', src, '--out', out, '01_good')            # the next run shows the time the stage took last
    assert 'took' in r2.stdout and 'when last run' in r2.stdout and r2.returncode == 0

def test_failed_page_says_it_failed(tmp_path):
    src, out, site = tmp_path/'nbs', tmp_path/'build'/'nbs', tmp_path/'site'
    src.mkdir()
    _nb(src/'01_bad.ipynb', 'import math', 'math.sqrt(-1)')
    assert _run('--src', src, '--out', out).returncode == 1
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'build_site.py'), '--src', str(out), '--out', str(site),
                        '--no-readme', '--bench-dir', str(tmp_path/'none')], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    page = (site/'bad.html').read_text()
    assert 'class="run-failed"' in page and 'math domain error' in page and 'cell 3' in page
