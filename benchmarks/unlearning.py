"""Unlearning benchmark: seconds per method for one model, and for K copies unlearned one after another (loop) or as one
vectorised ensemble (torch.func.vmap over stacked weights), with the largest weight difference between the two engines.
That difference is float32 rounding: the engines sum in different orders, and how much the orders differ depends on the
CPU's kernels (AVX-512, AVX2, ...), so it is reported, not checked; 03_unlearning checks the engines in float64.

    python benchmarks/unlearning.py                  # CPU, K = 8
    python benchmarks/unlearning.py --device cuda    # on a GPU machine
    python benchmarks/unlearning.py --k 32 --retain 4000   # larger

Data: a Fashion-MNIST slice (retain / forget), models: `SmallCNN` (16, 32). Every method runs with its default
hyperparameters, except `retrain`, which runs 2 epochs here (its default is the seed's 30) so that it is timed on the
same budget as the others. Timings are the best of `--repeats` runs (the one-model run after a warm-up run).
"""
import argparse, os, sys
os.environ.setdefault('VU_PROGRESS', '0')
import numpy as np, pandas as pd, torch
from vision_unlearning.data import load_fashion_mnist
from vision_unlearning.models import CNNConfig, build_model
from vision_unlearning.unlearning import RetrainConfig, train_from_scratch, unlearn, unlearning_methods
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _common import md, timed   # noqa: E402



def max_weight_diff(a:list, b:list)->float:
    "Largest absolute difference between corresponding weights of two lists of models."
    return max((pa - pb).abs().max().item() for ma, mb in zip(a, b) for pa, pb in zip(ma.parameters(), mb.parameters()))

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cpu'); p.add_argument('--k', type=int, default=8)
    p.add_argument('--retain', type=int, default=500); p.add_argument('--forget', type=int, default=100)
    p.add_argument('--repeats', type=int, default=1); p.add_argument('--methods', default=','.join(unlearning_methods))
    a = p.parse_args()
    d = load_fashion_mnist('train'); idx = np.random.default_rng(0).permutation(len(d))
    retain, forget = idx[:a.retain], idx[a.retain:a.retain + a.forget]
    R, Fg = (d.x[retain], d.y[retain]), (d.x[forget], d.y[forget])
    template = build_model(CNNConfig(widths=(16, 32)), 0)
    originals = train_from_scratch([template] * a.k, (d.x[idx[:a.retain + a.forget]], d.y[idx[:a.retain + a.forget]]),
                                   RetrainConfig(epochs=3, milestones=()), device=a.device)
    rows = []
    for name in a.methods.split(','):
        params = dict(epochs=2, milestones=()) if name == 'retrain' else {}
        run = lambda models, engine: unlearn(name, models, R, Fg, engine=engine, device=a.device, **params)
        one, _ = timed(lambda: run(originals[:1], 'loop'), a.repeats, a.device, warm=True)
        loop, ml = timed(lambda: run(originals, 'loop'), a.repeats, a.device)
        vec, mv = timed(lambda: run(originals, 'vmap'), a.repeats, a.device)
        rows.append(dict(method=name, one_model_s=round(one, 2), **{f'K{a.k}_loop_s': round(loop, 2), f'K{a.k}_vmap_s': round(vec, 2)},
                         vmap_speedup=round(loop / vec, 2), max_weight_diff=f"{max_weight_diff(ml, mv):.1e}"))
        print(rows[-1], flush=True)
    dev = torch.cuda.get_device_name() if a.device.startswith('cuda') else f'cpu ({torch.get_num_threads()} threads)'
    print(f"\ndevice: {dev}; retain {a.retain}, forget {a.forget}, K = {a.k}, SmallCNN (16, 32), batch 64\n")
    print(md(pd.DataFrame(rows)))

if __name__ == '__main__': main()
