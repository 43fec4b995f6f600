"""Helpers shared by the benchmark scripts (not a benchmark itself: tools/main.sh skips files starting with '_')."""
import time
import pandas as pd
import torch

def md(df:pd.DataFrame, floats:str|None=None)->str:
    "A DataFrame as a GitHub-markdown table (the docs site renders it as a table); `floats` formats float cells, e.g. '.3f'."
    cols = [str(c) for c in df.columns]
    fmt = lambda v: format(v, floats) if floats and isinstance(v, float) else str(v)
    rows = [[fmt(v) for v in r] for r in df.itertuples(index=False)]
    return '\n'.join(['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)] + ['| ' + ' | '.join(r) + ' |' for r in rows])

def timed(fn, repeats:int, device:str='cpu', warm:bool=False):
    "Best wall seconds of `repeats` runs of `fn` (after one warm-up run if `warm`), and the last result."
    out = fn() if warm else None; best = float('inf')
    for _ in range(repeats):
        if device.startswith('cuda'): torch.cuda.synchronize()
        t0 = time.perf_counter(); out = fn()
        if device.startswith('cuda'): torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best, out
