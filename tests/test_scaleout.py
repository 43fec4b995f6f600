"""The zoo's scale-out with submitit: jobs in real processes (submitit's local executor) make the same models as this
process, a job that kills itself is reported while every other job's models are stored and the same call resumes,
a requeued job skips what is stored, chunks go out as one job array (a SLURM array whose sbatch script is read back
through a stand-in `sbatch`), and submitit's debug executor runs them here. Each test takes seconds (a local job starts
a fresh Python that imports torch: about 5 s on two busy cores)."""
import concurrent.futures as cf, os, signal, stat, sys
from pathlib import Path
import numpy as np, pytest, torch

submitit = pytest.importorskip('submitit', reason="the cluster extra: pip install -e '.[dev,cluster]'")
import cloudpickle

from vision_unlearning.core import ArtifactStore, ConfigError
from vision_unlearning.data import load_fashion_mnist
from vision_unlearning.models import CNNConfig
from vision_unlearning.unlearning import RetrainConfig
from vision_unlearning.zoo import ChunkJob, ModelZoo, ZooJobError, _submit, zoo_executor

cloudpickle.register_pickle_by_value(sys.modules[__name__])   # job processes cannot import this test module

TINY, SHORT = CNNConfig(widths=(4, 8)), RetrainConfig(epochs=1, lr=0.05, milestones=(), batch_size=128)

@pytest.fixture(scope='module')
def data():
    tr = load_fashion_mnist('train'); return tr.x[:1000], tr.y[:1000]

def _zoo(data, tmp_path, name, **kw):
    return ModelZoo(TINY, SHORT, *data, store=ArtifactStore(tmp_path/name), chunk_size=2, **kw)

def _local(tmp_path, workers=2):
    return zoo_executor('local', folder=str(tmp_path/'jobs'), workers=workers, timeout_min=10)

def test_local_jobs_make_the_in_process_models(data, tmp_path):
    "Originals and unlearned models made by jobs in fresh processes equal this process's, every tensor bit for bit."
    jobs, here = _zoo(data, tmp_path, 'jobs', executor=_local(tmp_path)), _zoo(data, tmp_path, 'here', workers=1)
    forget = np.arange(0, 1000, 20)
    a = jobs.originals(4) + jobs.unlearned('neggrad', dict(epochs=0.5), forget, [0, 1])
    b = here.originals(4) + here.unlearned('neggrad', dict(epochs=0.5), forget, [0, 1])
    assert jobs.store.stats['computed'] == here.store.stats['computed'] == 6
    assert len(list((tmp_path/'jobs').glob('*_result.pkl'))) == 3       # 2 jobs of originals, 1 of unlearned models
    for sa, sb in zip(a, b):
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)

def _dies_once(marker:str, fn, args, kwargs):
    "A chunk's call that SIGKILLs its own process the first time it trains seed 2 (a marker file remembers)."
    if args[2].seed == 2 and not os.path.exists(marker):
        Path(marker).touch(); os.kill(os.getpid(), signal.SIGKILL)
    return fn(*args, **kwargs)

def test_killed_job_is_reported_and_the_same_call_resumes(data, tmp_path):
    "One of three jobs dies mid-run: the other two store their models, one error names it, the rerun makes only it."
    zoo, marker = _zoo(data, tmp_path, 'store', executor=_local(tmp_path, workers=3)), str(tmp_path/'killed_once')
    specs = zoo.trained_specs([np.arange(1000)] * 6, range(6))
    job = lambda chunk: (_dies_once, (marker, *zoo.train_call(np.arange(1000), specs[chunk[0]].seed, len(chunk))), {})
    with pytest.raises(ZooJobError, match=r'1 of 3 jobs failed; 2 models were not made') as e:
        zoo.get_many(specs, job, desc='originals')
    msg = str(e.value)
    assert 'seeds [2, 3]: UncompletedJobError' in msg and 'it makes only the 2 missing models' in msg, msg
    assert os.path.exists(marker) and zoo.store.stats['computed'] == 4
    assert [sp.seed for sp in e.value.specs] == [2, 3]
    assert isinstance(e.value.__cause__, submitit.core.utils.UncompletedJobError)
    items = zoo.get_many(specs, job, desc='originals')                    # the same call again
    assert zoo.store.stats['computed'] == 6 and all(it is not None for it in items)
    here = _zoo(data, tmp_path, 'here', workers=1).train([np.arange(1000)] * 2, [2, 3])   # the resumed chunk
    assert all(torch.equal(it['state'][k], h[k]) for it, h in zip(items[2:4], here) for k in h)

def test_requeued_job_skips_what_is_stored(data, tmp_path):
    "What submitit resubmits after a preemption is the same job; once its models are stored it makes nothing."
    zoo = _zoo(data, tmp_path, 'store', workers=1)
    specs = zoo.trained_specs([np.arange(1000)] * 2, [0, 1])
    job = ChunkJob(zoo.train_call(np.arange(1000), 0, 2), zoo.store.root, specs, 'originals')
    n, secs = job()
    assert n == 2 and secs > 0
    again = job.__submitit_checkpoint__()
    assert isinstance(again, submitit.helpers.DelayedSubmission) and again.function is job
    assert again.result() == (0, 0.0)

class _Recorder:
    "A concurrent.futures executor that records the size of every job array it is given."
    def __init__(self, max_in_flight=None):
        self.ex, self.arrays, self.max_in_flight = cf.ThreadPoolExecutor(2), [], max_in_flight
    def submit(self, job): self.arrays.append(1); return self.ex.submit(job)
    def submit_array(self, jobs): self.arrays.append(len(jobs)); return [self.ex.submit(j) for j in jobs]

@pytest.mark.parametrize('cap,arrays', [(None, [3]), (2, [2, 1])])
def test_chunks_go_out_as_job_arrays(data, tmp_path, cap, arrays):
    "A request's chunks are one array (SLURM: one sbatch); with `max_in_flight`, a window, refilled as jobs end."
    rec = _Recorder(cap)
    _zoo(data, tmp_path, 'store', executor=rec).originals(6)
    assert rec.arrays == arrays

def _fake_slurm(bin_dir:Path, log:Path):
    "Stand-in `srun` and `sbatch` (it copies the script it is given to `log` and answers as sbatch does)."
    bin_dir.mkdir()
    for name, body in [('srun', 'exit 0'), ('sbatch', f'cp "$1" {log}\necho "Submitted batch job 4242"')]:
        p = bin_dir/name; p.write_text(f'#!/bin/sh\n{body}\n'); p.chmod(p.stat().st_mode | stat.S_IEXEC)

def test_slurm_executor_writes_one_array_script(data, tmp_path, monkeypatch):
    "The SLURM kind's parameters reach sbatch: one array of the chunks, at most `array_parallelism` at once."
    log = tmp_path/'sbatch.sh'; _fake_slurm(tmp_path/'bin', log)
    monkeypatch.setenv('PATH', f"{tmp_path/'bin'}{os.pathsep}{os.environ['PATH']}")
    ex = zoo_executor('slurm', folder=str(tmp_path/'jobs'), partition='cpu', timeout_min=30, array_parallelism=2,
                      slurm=dict(account='vu'))
    assert ex.cluster == 'slurm' and ex.max_in_flight is None
    zoo = _zoo(data, tmp_path, 'store')
    specs = zoo.trained_specs([np.arange(1000)] * 6, range(6))
    chunks = [ChunkJob(zoo.train_call(np.arange(1000), s, 2), zoo.store.root, specs[s:s + 2]) for s in (0, 2, 4)]
    jobs = _submit(ex, chunks)
    assert [j.job_id for j in jobs] == ['4242_0', '4242_1', '4242_2']
    script = log.read_text()
    for line in ('--array=0-2%2', '--partition=cpu', '--time=30', '--cpus-per-task=1', '--account=vu',
                 '--job-name=vision_unlearning', '--signal=USR2@90'):
        assert f'#SBATCH {line}\n' in script, (line, script)
    assert [sp.seed for sp in jobs[1].submission().function.specs] == [2, 3]
    with pytest.raises(ConfigError, match='bogus'):
        zoo_executor('slurm', folder=str(tmp_path/'j2'), slurm=dict(bogus=1))

def test_debug_executor_runs_jobs_here(data, tmp_path):
    "submitit's debug executor: one job at a time, run in this process when its result is asked for."
    ex = zoo_executor('debug', folder=str(tmp_path/'jobs'))
    assert ex.max_in_flight == 1
    zoo = _zoo(data, tmp_path, 'store', executor=ex)
    assert len(zoo.originals(4)) == 4 and zoo.store.stats['computed'] == 4
