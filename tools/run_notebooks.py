#!/usr/bin/env python
"""Execute the notebooks of nbs/ in stage order, every cell including `#| slow` ones, into a build copy.

The committed notebooks are never written: each executed notebook goes to `--out` (default `_build/nbs/`), where
tools/build_site.py renders the site from it. Cells run with nbs/ as the working directory, as under `nbdev_test`.
Skipped, as nbdev skips them: cells with `#| eval: false`, cells that call `nbdev_export()`, notebooks whose front
matter says `skip_exec: true`, and `#| cuda` cells when torch sees no GPU.

    python tools/run_notebooks.py                    # index + every nbs/[0-9]*.ipynb, in order
    python tools/run_notebooks.py 01_data 02_models  # only these (names or paths)
"""
from __future__ import annotations
import argparse, os, shutil, sys, time
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

def run(nb_path:Path, out:Path, skip:set[str], timeout:int|None)->float:
    "Execute one notebook into `out` in a fresh process; raise with the failing cell's traceback (the partial notebook is still written)."
    import json, subprocess
    t = time.time()
    if str(_frontmatter(nb_path).get('skip_exec', '')).lower() == 'true':
        shutil.copy2(nb_path, out/nb_path.name)
        return -1.0
    r = subprocess.run([sys.executable, '-c', _EXEC, str(nb_path), str(out/nb_path.name), json.dumps(sorted(skip)), str(Path(__file__).parent)],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode: raise RuntimeError(r.stderr[-8000:])
    return time.time() - t

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('names', nargs='*', help='notebooks to run (default: all, in stage order)')
    ap.add_argument('--src', default=str(ROOT/'nbs'))
    ap.add_argument('--out', default=str(ROOT/'_build'/'nbs'))
    ap.add_argument('--timeout', type=int, default=None, help='seconds per notebook (default: no limit)')
    a = ap.parse_args(argv)
    src, out = Path(a.src).resolve(), Path(a.out).resolve()
    nbs = notebooks(src)
    if a.names:
        want = {Path(n).stem for n in a.names}
        nbs = [p for p in nbs if p.stem in want]
        if missing := want - {p.stem for p in nbs}: sys.exit(f"run_notebooks: no such notebooks in {src}: {sorted(missing)}")
    out.mkdir(parents=True, exist_ok=True)
    if not a.names:                                      # a full run leaves no stale copies of renamed notebooks
        for old in out.glob('*.ipynb'): old.unlink()
    os.environ.setdefault('VU_PROGRESS', '0')           # progress bars would end up as widgets in the saved outputs
    os.environ.setdefault('JUPYTER_PREFER_ENV_PATH', '1')   # the kernel is this venv's python
    os.environ.setdefault('PYDEVD_DISABLE_FILE_VALIDATION', '1')
    skip = skip_flags()
    print(f"run_notebooks: {len(nbs)} notebooks -> {os.path.relpath(out)}" + (f" (skipping cells flagged {sorted(skip)})" if skip else ''))
    t0 = time.time()
    for i, p in enumerate(nbs, 1):
        print(f"  [{i}/{len(nbs)}] {p.name} ...", flush=True)
        try: secs = run(p, out, skip, a.timeout)
        except Exception as e:
            print(f"  [{i}/{len(nbs)}] {p.name}: FAILED\n{e}\nrun_notebooks: {p.name} failed; the partly executed copy is {os.path.relpath(out/p.name)}")
            sys.exit(1)
        print(f"  [{i}/{len(nbs)}] {p.name}: " + ('skipped (skip_exec)' if secs < 0 else f"{secs:.1f} s"), flush=True)
    print(f"run_notebooks: all {len(nbs)} executed in {time.time()-t0:.1f} s")

if __name__ == '__main__': main()
