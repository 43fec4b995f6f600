#!/usr/bin/env python
"""Run the main job's stages in order: every notebook of nbs/ (every cell, `#| slow` ones included) into a build copy,
then, with `--bench`, every script of benchmarks/. A failing stage does not stop the rest.

The committed notebooks are never written: each executed notebook goes to `--out` (default `_build/nbs/`), where
tools/build_site.py renders the site from it. Cells run with nbs/ as the working directory, as under `nbdev_test`.
Skipped, as nbdev skips them: cells with `#| eval: false`, cells that call `nbdev_export()`, notebooks whose front
matter says `skip_exec: true`, and `#| cuda` cells when torch sees no GPU.

A failed notebook's partly executed copy gets a banner that says which cell failed and why, so its site page tells
the truth; the run ends with one line per failed stage and exits 1. Each stage's time is kept in `--out`/../stages.json
and shown beside the stage the next time ("last run").

    python tools/run_notebooks.py                    # index + every nbs/[0-9]*.ipynb, in order
    python tools/run_notebooks.py 01_data 02_models  # only these (names or paths)
    python tools/run_notebooks.py --bench            # then every benchmarks/*.py, output in _build/benchmarks/
"""
from __future__ import annotations
import argparse, json, os, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_site import notebooks   # page order is defined once, in build_site (the worker imports `directives` itself)

def _frontmatter(path:Path)->dict:
    "nbdev's view of a notebook's front matter (YAML raw cell or `# title` / `> description` / `- key: value`)."
    from nbdev.process import NBProcessor
    from nbdev.frontmatter import FrontmatterProc
    return getattr(NBProcessor(path, procs=FrontmatterProc, process=True).nb, 'frontmatter_', {}) or {}

def skip_flags()->set[str]:
    "Test flags whose cells are not run: `cuda` without a GPU, plus any listed in $VU_EXEC_SKIP_FLAGS."
    skip = set(os.environ.get('VU_EXEC_SKIP_FLAGS', '').split())
    import torch
    if not torch.cuda.is_available(): skip.add('cuda')
    return skip

# Each notebook runs in a fresh Python process with execnb's in-process shell (what `nbdev_test` uses): no kernel and
# no ZMQ sockets, which nbclient's TCP kernels occasionally lost a reply over (a run then hung forever).
_EXEC = """
import json, os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from build_site import directives
src, dest, skip = Path(sys.argv[1]), Path(sys.argv[2]), set(json.loads(sys.argv[3]))
nb = read_nb(src)
def preproc(cell):
    "True for cells that are not run: `eval: false`, `nbdev_export()`, flagged cells."
    if cell.cell_type != 'code': return False
    d, _ = directives(cell.source)
    if d.get('eval') == 'false' or 'nbdev_export(' in cell.source or skip & d.keys(): cell.outputs = []; return True
    return False
os.chdir(src.parent)
sh = CaptureShell()
try: sh.run_all(nb, exc_stop=True, preproc=preproc)
finally: write_nb(nb, dest)
"""

def _hms(s:float)->str: return f"{int(s//60)} min {int(s%60):02d} s" if s >= 60 else f"{s:.1f} s"

def _error_cell(nb_file:Path)->tuple[str, str]|None:
    "('cell N (`first line`)', 'Type: message') of the first cell of an executed notebook whose output is an error."
    nb = json.loads(nb_file.read_text())
    for i, c in enumerate(nb['cells'], 1):
        for o in c.get('outputs', []) if c['cell_type'] == 'code' else []:
            if o.get('output_type') != 'error': continue
            src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
            first = next((l.strip() for l in src.splitlines() if l.strip() and not l.lstrip().startswith('#')), '')
            why = f"{o.get('ename')}: {(str(o.get('evalue') or '').strip().splitlines() or [''])[0]}".strip()
            return f"cell {i} (`{first[:80].replace('`', '')}`)", why[:200]
    return None

def _mark_failed(nb_file:Path, where:str, why:str):
    "Put a banner under the title of a partly executed notebook: the page then says that it failed, and where."
    nb = json.loads(nb_file.read_text())
    msg = (f'<div class="run-failed">\n\n**This notebook failed when the main job ran it**: {where} raised '
           f'`{why.replace("`", "")}`. Outputs stop there; the traceback is shown under that cell.\n\n</div>')
    at = next((i + 1 for i, c in enumerate(nb['cells']) if c['cell_type'] == 'markdown'), 0)
    nb['cells'].insert(at, {'cell_type': 'markdown', 'id': 'runfailed', 'metadata': {}, 'source': msg})
    nb_file.write_text(json.dumps(nb, indent=1))

def run(nb_path:Path, out:Path, skip:set[str], timeout:int|None)->str|None:
    "Execute one notebook into `out` in a fresh process; return None, 'skipped', or the failure (banner added to the copy)."
    if str(_frontmatter(nb_path).get('skip_exec', '')).lower() == 'true':
        shutil.copy2(nb_path, out/nb_path.name)
        return 'skipped'
    dest = out/nb_path.name
    try:
        r = subprocess.run([sys.executable, '-c', _EXEC, str(nb_path), str(dest), json.dumps(sorted(skip)),
                            str(Path(__file__).parent)], capture_output=True, text=True, timeout=timeout)
        if not r.returncode: return None
        tail = r.stderr.strip().splitlines()[-1:] or [f'exit {r.returncode}']
    except subprocess.TimeoutExpired: tail = [f'timed out after {timeout} s']
    if not dest.exists(): shutil.copy2(nb_path, dest)
    err = _error_cell(dest)
    where, why = err or ('the run', tail[0])
    _mark_failed(dest, where, why)
    return f"{where}: {why}"

def run_bench(script:Path, out:Path, timeout:int|None)->str|None:
    "Run one benchmark script, echoing and saving its output to `out/<name>.txt`; return None or the failure."
    txt, lines = out/f"{script.stem}.txt", []
    p = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout: print('    ' + line, end='', flush=True); lines.append(line)
    rc = p.wait()
    if rc: lines.insert(0, f"FAILED (exit {rc}); the output up to the failure follows.\n\n")
    txt.write_text(''.join(lines))
    return None if rc == 0 else f"exit {rc}: {(lines[-1] if len(lines) > 1 else '').strip()[:300]}"

def _stages(a, src:Path)->list[tuple[str, Path]]:
    "The stages to run, in order: ('nb', notebook) for the notebooks asked for, then ('bench', script) with --bench."
    nbs = notebooks(src)
    if a.names:
        want = {Path(n).stem for n in a.names}
        nbs = [p for p in nbs if p.stem in want]
        if missing := want - {p.stem for p in nbs}: sys.exit(f"run_notebooks: no such notebooks in {src}: {sorted(missing)}")
    benches = sorted(p for p in (ROOT/'benchmarks').glob('*.py') if not p.name.startswith('_')) if a.bench else []
    return [('nb', p) for p in nbs] + [('bench', p) for p in benches]

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('names', nargs='*', help='notebooks to run (default: all, in stage order)')
    ap.add_argument('--src', default=str(ROOT/'nbs'))
    ap.add_argument('--out', default=str(ROOT/'_build'/'nbs'))
    ap.add_argument('--bench', action='store_true', help='also run benchmarks/*.py (output in --out/../benchmarks)')
    ap.add_argument('--timeout', type=int, default=None, help='seconds per stage (default: no limit)')
    a = ap.parse_args(argv)
    src, out = Path(a.src).resolve(), Path(a.out).resolve()
    if out == src: sys.exit(f"run_notebooks: --out {out} is the source folder; executed copies never overwrite the notebooks")
    stages, bench_out, times_p = _stages(a, src), out.parent/'benchmarks', out.parent/'stages.json'
    out.mkdir(parents=True, exist_ok=True); bench_out.mkdir(parents=True, exist_ok=True)
    if not a.names:                                      # a full run leaves no stale copies of renamed notebooks
        for old in [*out.glob('*.ipynb'), *bench_out.glob('*.txt')]: old.unlink()
    os.environ.setdefault('VU_PROGRESS', '0')           # progress bars would end up as widgets in the saved outputs
    os.environ.setdefault('JUPYTER_PREFER_ENV_PATH', '1')   # the kernel is this venv's python
    os.environ.setdefault('PYDEVD_DISABLE_FILE_VALIDATION', '1')
    skip, last = skip_flags(), (json.loads(times_p.read_text()) if times_p.exists() else {})
    print(f"run_notebooks: {len(stages)} stages" + (f" (skipping cells flagged {sorted(skip)})" if skip else ''))
    t0, failed, n = time.time(), {}, len(stages)
    for i, (kind, p) in enumerate(stages, 1):
        name = p.stem if kind == 'nb' else f"benchmarks/{p.name}"
        prev = last.get(name, {}).get('seconds')
        print(f"  [{i}/{n}] {name} ... (elapsed {_hms(time.time()-t0)}"
              + (f"; took {_hms(prev)} when last run)" if prev else ')'), flush=True)
        t = time.time()
        res = run(p, out, skip, a.timeout) if kind == 'nb' else run_bench(p, bench_out, a.timeout)
        secs = time.time() - t
        if res == 'skipped': print(f"  [{i}/{n}] {name}: skipped (skip_exec)", flush=True); continue
        if res: failed[name] = res
        last[name] = dict(seconds=round(secs, 1), ok=not res, when=time.strftime('%Y-%m-%d %H:%M'))
        times_p.write_text(json.dumps(last, indent=1))
        print(f"  [{i}/{n}] {name}: {'FAILED, ' + res if res else 'ok'} ({_hms(secs)})", flush=True)
    print(f"run_notebooks: {n - len(failed)} of {n} stages ran cleanly in {_hms(time.time()-t0)}")
    for name, why in failed.items(): print(f"run_notebooks: FAILED {name}: {why}")
    return 1 if failed else 0

if __name__ == '__main__': sys.exit(main())
