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
import argparse, os, re, shutil, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_site import directives, notebooks   # noqa: E402  (one definition of page order and of `#|` parsing)

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

def make_executor(skip:set[str]):
    from nbconvert.preprocessors import ExecutePreprocessor
    class StageExecutor(ExecutePreprocessor):
        "ExecutePreprocessor that honours nbdev's `eval: false`, `nbdev_export()` and flag conventions."
        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type == 'code':
                d, _ = directives(cell.source)
                if d.get('eval') == 'false' or 'nbdev_export(' in cell.source or skip & d.keys():
                    cell.outputs = []
                    return cell, resources
            return super().preprocess_cell(cell, resources, index)
    return StageExecutor

def run(nb_path:Path, out:Path, Executor, timeout:int|None)->float:
    "Execute one notebook into `out`; raise with the failing cell's traceback (the partial notebook is still written)."
    import nbformat
    t = time.time()
    if str(_frontmatter(nb_path).get('skip_exec', '')).lower() == 'true':
        shutil.copy2(nb_path, out/nb_path.name)
        return -1.0
    nb = nbformat.read(nb_path, as_version=4)
    ep = Executor(timeout=timeout, kernel_name='python3')
    try: ep.preprocess(nb, {'metadata': {'path': str(nb_path.parent)}})
    finally: nbformat.write(nb, out/nb_path.name)
    return time.time() - t

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('names', nargs='*', help='notebooks to run (default: all, in stage order)')
    ap.add_argument('--src', default=str(ROOT/'nbs'))
    ap.add_argument('--out', default=str(ROOT/'_build'/'nbs'))
    ap.add_argument('--timeout', type=int, default=None, help='seconds per cell (default: no limit)')
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
    Executor = make_executor(skip)
    print(f"run_notebooks: {len(nbs)} notebooks -> {os.path.relpath(out)}" + (f" (skipping cells flagged {sorted(skip)})" if skip else ''))
    from nbclient.exceptions import CellExecutionError
    t0 = time.time()
    for i, p in enumerate(nbs, 1):
        print(f"  [{i}/{len(nbs)}] {p.name} ...", flush=True)
        try: secs = run(p, out, Executor, a.timeout)
        except CellExecutionError as e:
            print(f"  [{i}/{len(nbs)}] {p.name}: FAILED\n{e}\nrun_notebooks: {p.name} failed; the partly executed copy is {os.path.relpath(out/p.name)}")
            sys.exit(1)
        print(f"  [{i}/{len(nbs)}] {p.name}: " + ('skipped (skip_exec)' if secs < 0 else f"{secs:.1f} s"), flush=True)
    print(f"run_notebooks: all {len(nbs)} executed in {time.time()-t0:.1f} s")

if __name__ == '__main__': main()
