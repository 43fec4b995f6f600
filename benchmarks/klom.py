"""KLOM benchmark: per-point KLOM of 10,000 points from 100 unlearned and 100 oracle margins each, our vectorised
`binned_kl` against the straightforward per-point loop of the reference recipe (`reference_binned_kl`, the verbatim
`compute_binned_KL_div` of data-unlearning-bench), with the largest difference between the two.

    python benchmarks/klom.py                      # CPU
    python benchmarks/klom.py --device cuda        # adds GPU rows (when torch sees one)
    python benchmarks/klom.py --points 50000

Margins are drawn with the features that matter: ties (rounded values), values beyond ±100 (clipped), constant points
and points whose unlearned margins all sit at the maximum (where the reference drops them and returns NaN).
Both right-edge rules are timed: 'drop' against the reference verbatim, 'include' against the same loop with
np.histogram. Vectorised timings are the best of --repeats runs after a warm-up run; the loop runs once.
"""
import argparse, os, sys
os.environ.setdefault('VU_PROGRESS', '0')
import numpy as np, pandas as pd, torch
from vision_unlearning.metrics.klom import binned_kl, reference_binned_kl
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _common import md, timed   # noqa: E402

def margins(n_models:int, n_points:int, seed:int=0)->tuple[np.ndarray, np.ndarray]:
    "Unlearned and oracle margins (models × points) with ties, clipped values, constant and all-at-maximum points."
    rng = np.random.default_rng(seed)
    u = rng.normal(1.0, 3.0, (n_models, n_points)).astype(np.float32)
    o = rng.normal(1.5, 2.5, (n_models, n_points)).astype(np.float32)
    k = n_points // 20
    u[:, :k] = np.round(u[:, :k]); o[:, :k] = np.round(o[:, :k])
    u[: n_models // 10, k:2 * k] = 250.0; o[:, 2 * k:3 * k] = -250.0
    u[:, 3 * k:3 * k + 10] = 2.0; o[:, 3 * k:3 * k + 10] = 2.0
    u[:, 3 * k + 10:3 * k + 20] = 30.0
    return u, o

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--points', type=int, default=10_000); p.add_argument('--models', type=int, default=100)
    p.add_argument('--device', default='cpu'); p.add_argument('--repeats', type=int, default=3)
    a = p.parse_args()
    u, o = margins(a.models, a.points)
    devices = ['cpu'] + (['cuda'] if a.device.startswith('cuda') and torch.cuda.is_available() else [])
    rows = []
    for edge in ('drop', 'include'):
        loop_s, ref = timed(lambda: np.array([reference_binned_kl(u[:, i], o[:, i], right_edge=edge) for i in range(a.points)]), 1)
        for dev in devices:
            for dtype in (torch.float64, torch.float32):
                vec_s, ours = timed(lambda: binned_kl(u, o, right_edge=edge, dtype=dtype, device=dev), a.repeats, dev, warm=True)
                same_nan = bool((np.isnan(ours) == np.isnan(ref)).all())
                diff = float(np.nanmax(np.abs(ours - ref)))
                rows.append(dict(right_edge=edge, device=dev, dtype=str(dtype).removeprefix('torch.'), loop_s=round(loop_s, 2),
                                 vectorised_s=round(vec_s, 4), speedup=round(loop_s / vec_s, 1), max_abs_diff=f"{diff:.1e}",
                                 nan_points_agree=same_nan, nan_points=int(np.isnan(ref).sum())))
                print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    name = torch.cuda.get_device_name() if 'cuda' in devices else 'none'
    print(f"\n{a.points} points x {a.models} unlearned x {a.models} oracle margins (float32 input); cpu threads: {torch.get_num_threads()}; GPU: {name}\n")
    print(md(df))
    ok = (df.max_abs_diff.astype(float) <= 1e-9).all() and df.nan_points_agree.all()
    print(f"\nevery device and dtype equals the reference loop to 1e-9 at every point: {ok}")
    print(f"smallest CPU speed-up: {df[df.device == 'cpu'].speedup.min()}x (target >= 50x)")

if __name__ == '__main__': main()
