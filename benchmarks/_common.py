"""Helpers shared by the benchmark scripts (not a benchmark itself: tools/main.sh skips files starting with '_')."""
import os, platform, time
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

def system_facts(devices:list)->str:
    "One line: torch version, threads, CPU model and GPU (if 'cuda' is among `devices`)."
    cpu = platform.processor() or platform.machine()
    try: cpu = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): pass
    gpu = torch.cuda.get_device_name() if 'cuda' in devices else 'none'
    return (f"torch {torch.__version__}; torch.get_num_threads(): {torch.get_num_threads()} "
            f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, os.cpu_count(): {os.cpu_count()}); "
            f"CPU: {cpu}; GPU: {gpu}")

