"""Experiment-layer benchmark: how fast the zoo makes every model of a KLOM setting's rows, cold (an empty store) and
warm (everything read back), per device, engine and chunk size, with models per minute side by side.

    python benchmarks/experiment.py                        # CPU: the loop engine, n = 2 models per row, 1 and N workers
    python benchmarks/experiment.py --device cuda --n 16   # adds GPU rows (vmap, chunks of 8 and of 64)

The setting is the default KLOM setting of `20b_klom_benchmark` (Fashion-MNIST, 2,000 training images, CNN (4, 8),
8 epochs), one forget set (`nn_100`), and every row: originals, reference and independent oracles, Retrained and the
ten methods, n models each (14 n models). On the CPU the loop engine trains model by model on one thread, so the
models depend neither on the chunking nor on the worker processes that make the chunks (one process, or one per core:
the KLOM column shows 0 difference); on a GPU the vmap engine trains a chunk as one batched program, and the table reports how far
its forget-group KLOM (p95) lies from the CPU's, a float32 difference amplified by training.
"""
import argparse, os, sys, tempfile, time
os.environ.setdefault('VU_PROGRESS', '0')
import pandas as pd, torch
from vision_unlearning.core import ArtifactStore
from vision_unlearning.metrics.klom import klom
from vision_unlearning.experiments.klom_fmnist import DEFAULT_SETTING, klom_data
from vision_unlearning.experiments.setting import make_rows, row_logits, rows
from vision_unlearning.models import margins
from vision_unlearning.zoo import ModelZoo, default_workers
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _common import md   # noqa: E402

def make_all(d, n:int, zoo:ModelZoo)->dict:
    "Margins of the reference oracles and of every row, every model made by `zoo` (or read from its store)."
    s = DEFAULT_SETTING
    make_rows(s, d, zoo, 'nn_100', n)   # as klom_benchmark does: the originals, then every other row side by side
    out = {'oracle': margins(row_logits(s, d, zoo, 'oracle', 'nn_100', n), d.y)}
    for label, row in rows(s).items(): out[label] = margins(row_logits(s, d, zoo, row, 'nn_100', n), d.y)
    return out

def run(d, n:int, device:str, engine:str, chunk:int, workers:int)->tuple[dict, dict]:
    "Cold and warm seconds of `make_all` in a fresh store, and the margins."
    s, store = DEFAULT_SETTING, ArtifactStore(tempfile.mkdtemp())
    zoo = ModelZoo(s.model, s.recipe, d.x[:d.n_train], d.y[:d.n_train], store=store, engine=engine, device=device,
                   chunk_size=chunk, workers=workers)
    times = []
    for _ in range(2):
        if device.startswith('cuda'): torch.cuda.synchronize()
        t0 = time.perf_counter(); m = make_all(d, n, zoo); times.append(time.perf_counter() - t0)
    models = 14 * n
    return dict(device=device, engine=engine, chunk=chunk, workers=workers, models=models, cold_s=round(times[0], 1),
                warm_s=round(times[1], 2), models_per_min=round(60 * models / times[0], 1)), m

def p95_forget(m:dict, d)->pd.Series:
    "p95 of forget-group KLOM per row."
    g = d.groups('nn_100')
    return pd.Series({r: float(klom(m[r], m['oracle'], groups=g).summary()['p95']['forget']) for r in m if r != 'oracle'})

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cpu'); p.add_argument('--n', type=int, default=2)
    a = p.parse_args()
    d = klom_data(DEFAULT_SETTING)
    half, cores = max(1, a.n // 2), default_workers('cpu')
    runs = [('cpu', 'loop', half, 1)] + ([('cpu', 'loop', half, cores)] if cores > 1 else [])
    if a.device.startswith('cuda'): runs += [(a.device, 'vmap', 8, 1), (a.device, 'vmap', 64, 1)]
    table, klom_p95 = [], {}
    for dev, eng, chunk, workers in runs:
        row, m = run(d, a.n, dev, eng, chunk, workers); table.append(row)
        klom_p95[f"{dev} {eng} {chunk}×{workers}"] = p95_forget(m, d)
        print(f"{dev} {eng} chunk {chunk}, {workers} workers: {row['cold_s']} s cold, {row['warm_s']} s warm", flush=True)
    print(f"\nEvery model of the {len(rows(DEFAULT_SETTING))} rows and the reference oracles of nn_100, "
          f"n = {a.n} per row, made by the zoo in an empty store (cold), then read back (warm):")
    print(md(pd.DataFrame(table)))
    k = pd.DataFrame(klom_p95).round(3)
    if k.shape[1] > 1: k['max |Δ| vs cpu'] = k.drop(columns=k.columns[0]).sub(k.iloc[:, 0], axis=0).abs().max(axis=1).round(3)
    print(f"\nKLOM p95 on nn_100's forget points, per row (n = {a.n}; small n: a noisy floor):")
    print(md(k.reset_index().rename(columns={'index': 'row'})))

if __name__ == '__main__': main()
