"""Zoo benchmark: size vs accuracy of the small-CNN family, loop vs vectorized ensemble for K = 1 and 8 models, and the
achieved GFLOP/s of a training step against a large matrix product on the same device. Every model is trained by
`train_from_scratch` with the benchmark's recipe (`ZooBenchConfig.recipe`, a `RetrainConfig`).

    python benchmarks/zoo.py                 # CPU (cached in the artifact store after the first run)
    python benchmarks/zoo.py --device cuda   # on a GPU machine
    python benchmarks/zoo.py --recompute     # measure again
"""
import argparse, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _common import md   # noqa: E402
import pandas as pd
from vision_unlearning.zoo import ZooBenchConfig, zoo_benchmark


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cpu', help="'cpu', 'cuda' or 'mps'")
    p.add_argument('--recompute', action='store_true', help='measure again even if a result is stored')
    p.add_argument('--ks', default=None, help="ensemble sizes, comma separated (default: ZooBenchConfig's, the ones "
                   '02b_zoo measured, so that its stored result is read)')
    a = p.parse_args()
    ks = {} if a.ks is None else dict(ks=tuple(int(k) for k in a.ks.split(',')))
    cfg = ZooBenchConfig(device=a.device, **ks)
    r = zoo_benchmark(cfg, recompute_if_exists=a.recompute)
    print(f"device: {r['device_name']}, torch threads: {r['threads']}")
    print(f"recipe: {cfg.recipe!r} (each candidate sets its epochs)\n")
    print("Size vs accuracy (one model on full Fashion-MNIST; default = most accurate within "
          f"{cfg.budget_models} models in {cfg.budget_seconds:g} s):")
    print(md(pd.DataFrame(r['sizes'])))
    print(f"\nchosen default: widths {r['default']['widths']}, {r['default']['epochs']:g} epoch(s)\n")
    b = r['budget']
    print(f"budget check: {b['models']} default models trained as one zoo in {b['seconds']} s (budget {b['budget_seconds']:g} s)\n")
    print("Engines (default model, full training set):")
    e = pd.DataFrame(r['engines']).pivot(index='K', columns='engine', values=['models_per_min', 'mean_test_acc', 'peak_mem_mb'])
    e.columns = [f'{engine} {what}' for what, engine in e.columns]
    print(md(e.reset_index()))
    print(f"\nThroughput: matrix product {r['matmul_gflops']} GFLOP/s")
    print(md(pd.DataFrame(r['throughput'])))

if __name__ == '__main__': main()
