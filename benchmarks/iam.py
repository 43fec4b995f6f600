"""IAM benchmark: scoring 10,000 targets from 128 shadows on a grid of 100 α with our vectorised `iam_score` (Gumbel,
paper weights, pooled σ, float64) against a per-sample Python loop of the same formula and against the reference's
materialised NumPy form, with the largest difference; then LiRA, RMIA and IAM's other distributions on the same sizes.

    python benchmarks/iam.py                       # CPU
    python benchmarks/iam.py --device cuda         # adds GPU rows (when torch sees one)
    python benchmarks/iam.py --targets 50000 --loop-targets 200

Target (issue): 10,000 targets × 128 shadows × 100 α in ≤ 1 s on 2 CPU cores (`OMP_NUM_THREADS=2`), vectorised.
Signals are synthetic, in [0, 1]: shadows Beta(2, 3) (S × P), anchors Beta(5, 1), the unlearned model's signal the
shadows' mean or the anchor (half each) plus noise. The loop is an independent restatement of the reference's
`interpolate_appro`: the pooled σ at each α over shadows and samples first (one pass per α over the whole S × P array,
as the reference's `np.std(axis=(0, 2))`), then, per sample, its S × (N-1) interpolated points, their mean and
`scipy.stats.gumbel_r.cdf`. The per-sample part runs on the first --loop-targets targets (default: all of them),
extrapolated linearly to all targets when fewer (the σ pass is counted once, in full). The materialised form builds the S × N × P array
(about 1 GB in float64 at the default sizes) and reports 'n/a' when that does not fit. Vectorised timings are the best
of --repeats runs after a warm-up run; the loop and the materialised form run once. GPU rows get their inputs already
on the GPU (and `device='cuda'`).
"""
import argparse, os, platform, sys
os.environ.setdefault('VU_PROGRESS', '0')
import numpy as np, pandas as pd, torch
from scipy.stats import gumbel_r
from vision_unlearning.metrics.iam import iam_score, lira_score, rmia_score
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _common import md, system_facts, timed   # noqa: E402

def signals(n_shadows:int, n_targets:int, n_pop:int, seed:int=0)->dict:
    "Synthetic signals in [0, 1]: unlearned, shadow, anchor, membership on random halves, RMIA's population."
    g = np.random.default_rng(seed)
    sh = g.beta(2, 3, (n_shadows, n_targets)); a = g.beta(5, 1, n_targets)
    u = np.clip(np.where(g.random(n_targets) < .5, sh.mean(0), a) + g.normal(0, .02, n_targets), 0, 1)
    keep = np.argsort(g.random((n_shadows, n_targets)), 0) < n_shadows // 2
    return dict(u=u, sh=sh, a=a, member=keep, tz=g.beta(2, 3, n_pop), rz=g.beta(2, 3, (n_shadows, n_pop)))

def pooled_std(sh:np.ndarray, a:np.ndarray, alphas:np.ndarray)->np.ndarray:
    "σ of the interpolated signals at each α, over shadows and samples (the reference's np.std(axis=(0, 2)))."
    return np.array([np.std(sh + (a - sh) * al) for al in alphas])

def loop_iam(u, sh, a, std, alphas, idx)->np.ndarray:
    "IAM of the targets `idx`, one at a time: interpolate, mean over shadows, Gumbel CDF, weighted sum (paper weights)."
    w = alphas; beta = np.sqrt(6) * std / np.pi; out = []
    for i in idx:
        inter = sh[:, i, None] + (a[i] - sh[:, i, None]) * alphas[None]           # S × (N-1), this sample only
        F = gumbel_r.cdf(u[i], inter.mean(0) - 0.5772 * beta, beta)
        out.append(1 - (w * F).sum() / w.sum())
    return np.array(out)

def materialised_iam(u, sh, a, n_alpha:int)->np.ndarray:
    "The reference's interpolate_appro, vectorised with NumPy on the materialised S × N × P array."
    alphas = np.linspace(0, 1, n_alpha)
    inter = np.stack([sh + (a - sh) * al for al in alphas], 1)[:, :-1]            # S × (N-1) × P
    mean, std = inter.mean(0), np.std(inter, axis=(0, 2))[:, None]
    beta = np.sqrt(6) * std / np.pi; F = gumbel_r.cdf(u, mean - 0.5772 * beta, beta)
    w = alphas[:-1]
    return 1 - (w[:, None] * F).sum(0) / w.sum()

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--targets', type=int, default=10_000); p.add_argument('--shadows', type=int, default=128)
    p.add_argument('--alphas', type=int, default=100); p.add_argument('--loop-targets', type=int, default=10_000)
    p.add_argument('--population', type=int, default=1_000)
    p.add_argument('--device', default='cpu'); p.add_argument('--repeats', type=int, default=5)
    a = p.parse_args()
    devices = ['cpu'] + (['cuda'] if a.device.startswith('cuda') and torch.cuda.is_available() else [])
    print(system_facts(devices), flush=True)
    P, S, N, L = a.targets, a.shadows, a.alphas, min(a.loop_targets, a.targets)
    d = signals(S, P, a.population); u, sh, an = d['u'], d['sh'], d['a']
    on = {dev: {k: torch.as_tensor(v, device=dev) for k, v in d.items()} for dev in devices}

    # the per-sample loop: pooled σ once over everything, then the first L targets one by one
    alphas = np.linspace(0, 1, N)[:-1]
    std_s, std = timed(lambda: pooled_std(sh, an, alphas), 1)
    per_s, ref = timed(lambda: loop_iam(u, sh, an, std, alphas, range(L)), 1)
    loop_s = std_s + per_s * P / L
    loop_col = f"loop_s (extrapolated from {L})"

    rows = []
    for dev in devices:
        t = on[dev]
        vec_s, ours = timed(lambda: iam_score(t['u'], t['sh'], t['a'], n_alpha=N, device=dev), a.repeats, dev, warm=True)
        ours = ours.cpu().numpy()
        rows.append({'implementation': 'iam_score (ours)', 'device': dev, 'seconds': round(vec_s, 4), loop_col: round(loop_s, 2),
                     'speedup_vs_loop': round(loop_s / vec_s, 1),
                     'max_abs_diff_vs_loop': f"{np.abs(ours[:L] - ref).max():.1e}",
                     'meets_1s_target': bool(vec_s <= 1.0) if dev == 'cpu' else '-'})
        print(rows[-1], flush=True)
        if dev == 'cpu': ours_cpu = ours
    try:
        mat_s, mat = timed(lambda: materialised_iam(u, sh, an, N), 1)
        mat_diff, mat_ours = np.abs(mat[:L] - ref).max(), np.abs(mat - ours_cpu).max()
        rows.append({'implementation': 'materialised NumPy (reference form)', 'device': 'cpu', 'seconds': round(mat_s, 3),
                     loop_col: round(loop_s, 2), 'speedup_vs_loop': round(loop_s / mat_s, 1),
                     'max_abs_diff_vs_loop': f"{mat_diff:.1e}", 'meets_1s_target': '-'})
    except MemoryError:
        mat_ours = None
        rows.append({'implementation': 'materialised NumPy (reference form)', 'device': 'cpu', 'seconds': 'n/a',
                     loop_col: round(loop_s, 2), 'speedup_vs_loop': 'n/a', 'max_abs_diff_vs_loop': 'n/a', 'meets_1s_target': '-'})
    print(rows[-1], flush=True)
    df = pd.DataFrame(rows)

    # LiRA, RMIA and IAM's other distributions on the same sizes
    others = []
    for dev in devices:
        t = on[dev]
        cases = [('LiRA offline (cdf)', f"{S} OUT shadows", lambda: lira_score(t['u'], t['sh'])),
                 ('LiRA online', f"{S} shadows, IN on random halves", lambda: lira_score(t['u'], t['sh'], t['member'], online=True)),
                 ('RMIA offline', f"{S} references, {a.population} population points",
                  lambda: rmia_score(t['u'], t['tz'], t['sh'], t['rz'])),
                 ('IAM gauss', f"{S} shadows, {N} α", lambda: iam_score(t['u'], t['sh'], t['a'], N, 'gauss', device=dev)),
                 ('IAM ecdf', f"{S} shadows, {N} α (materialised in chunks)",
                  lambda: iam_score(t['u'], t['sh'], t['a'], N, 'ecdf', device=dev))]
        for name, setting, fn in cases:
            s, _ = timed(fn, a.repeats, dev, warm=True)
            others.append(dict(score=name, device=dev, setting=setting, seconds=round(s, 4)))
            print(others[-1], flush=True)

    print(f"\n{P} targets x {S} shadows x {N} α (Gumbel, paper weights, pooled σ, float64); {system_facts(devices)}\n")
    print(md(df))
    print(f"\nloop: pooled σ pass over all {P} targets {std_s:.2f} s + per-sample part {per_s:.2f} s for {L} targets "
          f"(x {P / L:g}); max |diff| on those {L} targets")
    if mat_ours is not None: print(f"materialised form against ours on all {P} targets: max |diff| {mat_ours:.1e}")
    print(f"\n{P} targets, same signals; best of {a.repeats} after a warm-up\n")
    print(md(pd.DataFrame(others)))
    cpu = df[(df.device == 'cpu') & (df.implementation == 'iam_score (ours)')].iloc[0]
    ok = (df.max_abs_diff_vs_loop[df.max_abs_diff_vs_loop != 'n/a'].astype(float) < 1e-9).all()
    print(f"\nevery implementation equals the per-sample loop to 1e-9 on the looped targets: {ok}")
    print(f"ours on the CPU: {cpu.seconds} s, {cpu.speedup_vs_loop}x the loop (target <= 1 s on 2 cores: {cpu.meets_1s_target})")

if __name__ == '__main__': main()
