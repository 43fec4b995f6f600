"""I-CARE statistics on planted testbeds: planted effects are found, and under the null each template rejects no more
often than its significance level allows (binomial tail check over repeated null seeds)."""
import re
from pathlib import Path

import pytest
from scipy import stats

from vision_unlearning.benchmarks.I_care import TestbedConfig, write_testbed
import vision_unlearning.benchmarks.I_care as I_care

ALPHA, N_NULL, N_PLANTED = 0.05, 40, 10
NULL = dict(pair_effects={}, similarity_effect=0., emitter_effects={})
PLANTED = dict(pair_effects={'design': .3}, similarity_effect=.3, emitter_effects={'boldness': .5, 'design=serif': 1.})

def _templates(folder):
    kw = dict(task='fonts', unlearning_algorithm='distil', base_folder=folder, remote_repository_name=None, save_outputs=False)
    return {
        'SR-Numerical': I_care.ResultTemplateSignificantRelationshipNumerical(**kw, interference_entity='Emitter average rmse', attribute='boldness'),
        'SR-Categorical': I_care.ResultTemplateSignificantRelationshipCategorical(**kw, interference_entity='Emitter average rmse', attribute='design'),
        'MSA': I_care.ResultTemplateMetricSimilarityAlignment(**kw, interference_pair='rmse', similarity_metric='jacc', permutations=199),
        'MSAMulti': I_care.ResultTemplateMetricSimilarityAlignmentMulti(**kw, interference_pair='rmse', similarity_metric_list=['jacc']),
        'MMA': I_care.ResultTemplateMetricMetricAlignment(**kw, interference_entity_1='Emitter average rmse',
                                                           interference_entity_2='Receiver average brisque diff'),
        'CSR-Holm': I_care.ResultTemplateCountSignificantRelationship(task='fonts', base_folder=folder, remote_repository_name=None,
            save_outputs=False, correction='holm', unlearning_algorithm_list=['distil'],
            interference_entity_list=['Emitter average rmse', 'Receiver average ssim'], attribute_list=['boldness', 'weight', 'design', 'monospace'])}

def _significant(seed, effects, tmp_path):
    folder = write_testbed(str(tmp_path/f'tb{seed}'), TestbedConfig(entities='synthetic', n_entities=40, methods=('distil',),
                                                                     image_emitters=0, seed=seed, **effects))
    out = {}
    for name, rt in _templates(folder).items():
        r = rt.compute().result
        out[name] = r['total_count'] > 0 if name == 'CSR-Holm' else bool(r['significant'])
    return out

def test_null_rejection_rate(tmp_path):
    "Over repeated null testbeds, no template rejects more often than a binomial(N, alpha) count would allow (p > 0.001)."
    runs = [_significant(1000 + s, NULL, tmp_path) for s in range(N_NULL)]
    counts = {k: sum(r[k] for r in runs) for k in runs[0]}
    tails = {k: stats.binom.sf(c - 1, N_NULL, ALPHA) for k, c in counts.items()}
    print('null rejections of', N_NULL, counts)
    assert all(t > 1e-3 for t in tails.values()), (counts, tails)

def test_planted_effects_found(tmp_path):
    "With attribute, similarity and emitter effects planted, every template finds them in (almost) every testbed."
    runs = [_significant(s, PLANTED, tmp_path) for s in range(N_PLANTED)]
    counts = {k: sum(r[k] for r in runs) for k in runs[0] if k != 'MMA'}   # MMA's two metrics are unrelated by design
    print('planted found of', N_PLANTED, counts)
    assert all(c >= N_PLANTED - 1 for c in counts.values()), counts

SEED = Path(__file__).resolve().parents[2]/'shared'/'seeds'/'000_I_care_api.txt'

def _seed_signatures():
    "(name, parameter names) of every function of seed 000 whose signature sits on one line, parsed with `ast`."
    import ast
    text = SEED.read_text()
    for m in re.finditer(r'^- vision_unlearning\.benchmarks\.I_care\.([A-Za-z_]+)\((.*)\)(?: \S.*?)?\[source\]$', text, re.M):
        args = ast.parse(f"def f({m[2]}): pass").body[0].args
        yield m[1], [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]

@pytest.mark.skipif(not SEED.exists(), reason='seed 000 is not beside the checkout')
def test_seed_signatures():
    "Every function of seed 000 takes the seed's parameters, in the seed's order (extra keyword parameters may follow)."
    import inspect
    sigs = list(_seed_signatures())
    assert len(sigs) >= 35   # functions whose whole signature sits on one line of the seed
    bad = {}
    for name, params in sigs:
        ours = [p for p in inspect.signature(getattr(I_care, name)).parameters if p not in ('self',)]
        if ours[:len(params)] != params: bad[name] = (params, ours)
    assert not bad, bad

def _seed_class_fields():
    "(class name, {field: default or ...}) of every pydantic class of seed 000."
    import ast
    text = SEED.read_text()
    blocks = re.split(r'^- class vision_unlearning\.benchmarks\.I_care\.|^class vision_unlearning\.benchmarks\.I_care\.', text, flags=re.M)
    for b in blocks[1:]:
        name = re.match(r'([A-Za-z_]+)', b)[1]
        body = re.split(r'^- vision_unlearning\.benchmarks\.I_care\.', b, flags=re.M)[0]
        fields = {}
        for m in re.finditer(r'^- ([a-z_0-9]+): [^=\n]+?(?: = (.+))?$', body, re.M):
            try: fields[m[1]] = ast.literal_eval(m[2]) if m[2] else ...
            except (ValueError, SyntaxError): fields[m[1]] = ...
        yield name, fields

@pytest.mark.skipif(not SEED.exists(), reason='seed 000 is not beside the checkout')
def test_seed_class_fields():
    "Every pydantic class of seed 000 has the seed's fields, with the seed's literal defaults."
    classes = dict(_seed_class_fields())
    assert len(classes) >= 15 and 'ResultTemplateMetricSimilarityAlignmentMulti' in classes
    bad = {}
    for name, fields in classes.items():
        ours = getattr(I_care, name).model_fields
        for f, d in fields.items():
            if f not in ours: bad[f'{name}.{f}'] = 'missing'
            elif d is not ... and ours[f].default != d: bad[f'{name}.{f}'] = (d, ours[f].default)
    assert not bad, bad

def test_remote_resolution(tmp_path, monkeypatch):
    "A per-entity table absent locally is fetched from the Hub (client patched), offline computed; answers only on request."
    import json, os
    import vision_unlearning.benchmarks.I_care.utils as U
    folder = write_testbed(str(tmp_path/'tb'), TestbedConfig(entities='synthetic', n_entities=8, methods=('distil',), image_emitters=0))
    remote = json.loads(open(I_care.get_interference_per_entity_path('fonts', folder)).read())
    remote[0]['marker'] = 'from the hub'
    os.remove(I_care.get_interference_per_entity_path('fonts', folder))
    calls = []
    def exists(repo, path, token): calls.append(('exists', repo, path)); return path == 'interference_per_entity_fonts.json'
    def download(base, repo, path, token):
        calls.append(('download', repo, path)); open(os.path.join(base, path), 'w').write(json.dumps(remote))
    monkeypatch.setattr(U, 'huggingface_dataset_file_exists', exists)
    monkeypatch.setattr(U, 'huggingface_dataset_file_download', download)
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    rows = I_care.InterferencePerEntity(task='fonts', base_folder=folder, remote_repository_name='me/testbeds').compute()
    assert calls == [] and 'marker' not in rows[0]                       # offline: computed, the hub never asked
    os.remove(I_care.get_interference_per_entity_path('fonts', folder))
    monkeypatch.delenv('HF_HUB_OFFLINE')
    rows = I_care.InterferencePerEntity(task='fonts', base_folder=folder, remote_repository_name='me/testbeds').compute()
    assert rows[0]['marker'] == 'from the hub' and calls[-1] == ('download', 'me/testbeds', 'interference_per_entity_fonts.json')
    rt = I_care.ResultTemplateMetricMetricAlignment(task='fonts', unlearning_algorithm='distil', base_folder=folder,
        remote_repository_name='me/testbeds', interference_entity_1='Emitter average rmse', interference_entity_2='Emitter average ssim')
    n = len(calls); mine = rt.compute().result
    assert calls[n:] == [] and os.path.exists(rt.path())                # compute never asks the Hub: computed and saved
    rel = os.path.relpath(rt.path(), folder)
    published = dict(metadata=dict(RT='ResultTemplateMetricMetricAlignment', marker='published'), result=dict(x='a'))
    def exists_rt(repo, path, token): calls.append(('exists', repo, path)); return (repo, path) == ('me/testbeds', rel)
    def download_rt(base, repo, path, token):
        calls.append(('download', repo, path)); open(os.path.join(base, path), 'w').write(json.dumps(published))
    monkeypatch.setattr(U, 'huggingface_dataset_file_exists', exists_rt)
    monkeypatch.setattr(U, 'huggingface_dataset_file_download', download_rt)
    [ans] = I_care.fetch_published_answers(rt)                           # the explicit call asks the Hub
    assert ans.metadata['marker'] == 'published' and ans.result == {'x': 'a'} and calls[-1] == ('download', 'me/testbeds', rel)
    assert I_care.fetch_published_answers([rt], repository='other/testbeds') == [None] and calls[-1] == ('exists', 'other/testbeds', rel)
    assert rt.compute().result == mine                                   # the downloaded file is not read by compute
    monkeypatch.setenv('HF_HUB_OFFLINE', '1'); n = len(calls)
    assert I_care.fetch_published_answers([rt]) == [None] and calls[n:] == []

# ---------------------------------------------------------------------------------------------------------------------
# Caches that cannot give the wrong answer (issue 12, part 6). Two small testbeds A and B (different seeds and effects)
# are written once per module and copied into each test's folder, so every test starts from the published layout.
# ---------------------------------------------------------------------------------------------------------------------
import json, os, shutil, sys, time, warnings
import numpy as np
import huggingface_hub
import huggingface_hub.constants as hf_constants
from vision_unlearning.core import ArtifactStore, VisionUnlearningError, get_store, set_store
from vision_unlearning.core import test_raises as raises_with   # aliased: pytest would collect `test_raises`
import vision_unlearning.benchmarks.I_care.metadata as M
import vision_unlearning.benchmarks.I_care.utils as U
import vision_unlearning.benchmarks.I_care.result_templates as R

_SMALL = dict(entities='synthetic', n_entities=24, methods=('distil', 'munba'), image_emitters=2)
_CLOSED_PORT = 'http://127.0.0.1:9'   # nothing listens there: the real client gets a refused connection, on any machine

@pytest.fixture(scope='module')
def testbeds(tmp_path_factory):
    "Folders A and B: the same layout, different planted interference."
    d = tmp_path_factory.mktemp('icare_src')
    return dict(A=write_testbed(str(d/'A'), TestbedConfig(**_SMALL, seed=1)),
                B=write_testbed(str(d/'B'), TestbedConfig(**_SMALL, seed=2, emitter_effects={'boldness': 1.5})))

@pytest.fixture
def store(tmp_path):
    "A fresh artifact store for one test (the previous default is put back afterwards)."
    old = get_store(); s = set_store(ArtifactStore(tmp_path/'store'))
    yield s
    set_store(old)

def _copy(src:str, dst)->str: shutil.copytree(src, dst); return str(dst)

def _drop_per_entity(folder:str)->str:
    "Remove the per-entity file and anything beside it that describes it: the state before it was ever computed."
    for f in os.listdir(folder):
        if 'interference_per_entity_fonts' in f: os.remove(os.path.join(folder, f))
    return folder

def _snapshot(folder:str)->dict:
    "Every file under `folder` with its size, mtime and inode."
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_ino)
            for p in Path(folder).rglob('*') if p.is_file()}

def _kw(folder:str, **kw)->dict:
    return dict(task='fonts', unlearning_algorithm='distil', base_folder=folder, remote_repository_name=None, save_outputs=False) | kw

def _mma(folder:str, **kw):
    return I_care.ResultTemplateMetricMetricAlignment(**_kw(folder, **kw), interference_entity_1='Emitter average rmse',
                                                      interference_entity_2='Emitter average brisque diff')

def _im(folder:str, **kw): return I_care.ResultTemplateInterferenceMatrix(**_kw(folder, **kw), interference_pair='rmse')

def test_answer_of_folder_a_never_returned_for_b(testbeds, tmp_path, store):
    "Before the per-entity file exists, B's answer is B's own, not A's from the cache (per-entity and per-pair templates)."
    A, B = (_drop_per_entity(_copy(testbeds[k], tmp_path/k)) for k in 'AB')
    ra, rb = _mma(A).compute().result, _mma(B).compute().result
    ma, mb = _im(A).compute().result, _im(B).compute().result
    set_store(ArtifactStore(tmp_path/'other_store'))
    truth = _copy(testbeds['B'], tmp_path/'B_alone')
    assert ra['pearson_statistic'] != rb['pearson_statistic'] and ma != mb
    assert rb == _mma(truth).compute().result and mb == _im(truth).compute().result

def test_one_key_for_every_spelling_of_a_folder(testbeds, tmp_path, store, monkeypatch):
    "`assets`, `./assets`, the absolute path and a symlink give one cache key; an identical copy elsewhere gets its own."
    _copy(testbeds['A'], tmp_path/'assets'); os.symlink(tmp_path/'assets', tmp_path/'link')
    monkeypatch.chdir(tmp_path)
    spellings = ['assets', './assets', str(tmp_path/'assets'), str(tmp_path/'assets') + '/', 'link']
    answers = {(rt.__name__, f): rt(f).compute().result for f in spellings for rt in (_mma, _im)}
    assert store.stats['computed'] == 2, store.stats                       # one per template, whatever the spelling
    assert len({json.dumps(v, sort_keys=True) for k, v in answers.items() if k[0] == '_mma'}) == 1
    _mma(_copy(testbeds['A'], tmp_path/'copy')).compute()
    assert store.stats['computed'] == 3, store.stats                       # another folder: computed, not borrowed

def test_save_outputs_false_writes_nothing_into_the_folder(testbeds, tmp_path, store, monkeypatch):
    "Templates and `InterferencePerEntity` with `save_outputs=False` leave the data folder as it was, remote answers too."
    folder = _drop_per_entity(_copy(testbeds['A'], tmp_path/'A'))
    before = _snapshot(folder)
    _mma(folder).compute(); _im(folder).compute()
    I_care.ResultTemplateSignificantRelationshipNumerical(**_kw(folder), interference_entity='Emitter average rmse', attribute='boldness').compute()
    rows = I_care.InterferencePerEntity(task='fonts', base_folder=folder, remote_repository_name=None, save_outputs=False).compute()
    assert _snapshot(folder) == before and len(rows) == 24
    monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)                   # a published table, fetched from a patched Hub
    remote = [dict(r, marker='from the hub') for r in rows]
    monkeypatch.setattr(U, 'huggingface_dataset_file_exists', lambda repo, path, token: True)
    monkeypatch.setattr(U, 'huggingface_dataset_file_download',
                        lambda base, repo, path, token: Path(base, path).parent.mkdir(parents=True, exist_ok=True) or Path(base, path).write_text(json.dumps(remote)))
    rows = I_care.InterferencePerEntity(task='fonts', base_folder=folder, remote_repository_name='me/testbeds', save_outputs=False).compute()
    assert rows[0]['marker'] == 'from the hub' and _snapshot(folder) == before

def _perturb_per_pair(folder:str, method:str='distil', epochs:int=100, seed:int=0)->None:
    "Rewrite every per-pair file of `method` with new random rmse values (as a re-run of the pipeline would)."
    rng = np.random.default_rng(seed)
    n = len(I_care.get_metadata_filtered('fonts', folder))
    for i in range(n):
        ipp = I_care.get_interference_per_pair('fonts', i, method, epochs, n, folder)
        for rec in ipp.values(): rec['rmse'] = round(float(rng.random()), 6)
        I_care.save_interference_per_pair(ipp, 'fonts', i, method, epochs, folder)

def test_derived_per_entity_file_follows_its_inputs(testbeds, tmp_path, store):
    "A per-entity file written by the package is rebuilt when the per-pair files change; `recompute_if_exists` refreshes a legacy one."
    from vision_unlearning.benchmarks.I_care.metrics import compute_interference_per_entity
    folder = _copy(testbeds['A'], tmp_path/'A')                        # its per-entity file was written by the testbed writer
    r0 = _mma(folder).compute().result
    old_rows = I_care.get_interference_per_entity('fonts', 24, folder)
    _perturb_per_pair(folder)
    col = I_care.choose_metric_column_interference_per_entity('distil', 'Emitter average rmse', list(old_rows[0]))
    truth = [r[col] for r in compute_interference_per_entity('fonts', base_folder=folder)]
    assert truth != [r[col] for r in old_rows]
    rows = I_care.InterferencePerEntity(task='fonts', base_folder=folder, remote_repository_name=None, save_outputs=False).compute()
    assert [r[col] for r in rows] == truth
    r1 = _mma(folder).compute().result
    assert r1 != r0 and np.isclose(r1['pearson_statistic'], np.corrcoef(truth, [r[r1['y']] for r in rows])[0, 1])
    I_care.InterferencePerEntity(task='fonts', base_folder=folder, remote_repository_name=None).compute()   # saved: rewritten
    assert [r[col] for r in I_care.get_interference_per_entity('fonts', 24, folder)] == truth
    legacy = _drop_per_entity(_copy(testbeds['A'], tmp_path/'legacy'))  # a table written without a record of its inputs
    I_care.save_interference_per_entity('fonts', old_rows, legacy)
    _perturb_per_pair(legacy)
    assert _mma(legacy, recompute_if_exists=True).compute().result == r1

def test_in_place_edit_is_seen(testbeds, tmp_path, store):
    "A per-pair file edited in place (same size, mtime put back) is read again by `interference_matrix` and by templates."
    folder = _copy(testbeds['A'], tmp_path/'A')
    m0, r0 = I_care.interference_matrix('fonts', 'distil', 'rmse', folder), _im(folder).compute().result
    p = I_care.get_interference_per_pair_path('fonts', 0, 'distil', 100, folder)
    st, ipp = os.stat(p), json.loads(Path(p).read_text())
    receiver = list(ipp)[1]; old = json.dumps(ipp[receiver]['rmse'])
    new = old[:-1] + str((int(old[-1]) + 5) % 10)                       # same length, another value
    ipp[receiver]['rmse'] = json.loads(new); text = json.dumps(ipp, indent=4)   # the writer's own format
    assert len(text) == st.st_size
    with open(p, 'r+') as f: f.write(text)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(p).st_size == st.st_size and os.stat(p).st_mtime_ns == st.st_mtime_ns
    m1, r1 = I_care.interference_matrix('fonts', 'distil', 'rmse', folder), _im(folder).compute().result
    assert m0.iloc[0, 1] == json.loads(old) and m1.iloc[0, 1] == json.loads(new)
    assert r1[0][receiver] == json.loads(new) and r0[0][receiver] == json.loads(old)

def test_corrupt_json_raises_interference_file_error(testbeds, tmp_path, store):
    "Truncated, non-UTF-8 or wrongly shaped per-pair and metadata files raise `InterferenceFileError` naming the file."
    E = I_care.InterferenceFileError
    assert issubclass(E, VisionUnlearningError) and issubclass(E, ValueError) and 'InterferenceFileError' in I_care.__all__
    folder = _copy(testbeds['A'], tmp_path/'A')
    p = I_care.get_interference_per_pair_path('fonts', 3, 'distil', 100, folder)
    Path(p).write_text(Path(p).read_text()[:-40])
    raises_with(lambda: I_care.get_interference_per_pair('fonts', 3, 'distil', 100, 24, folder), E, os.path.basename(p), 'not valid JSON', 'line')
    raises_with(lambda: I_care.load_interference_tensor('fonts', 'distil', base_folder=folder), E, os.path.basename(p))
    raises_with(lambda: _im(folder).compute(), E, os.path.basename(p))
    Path(p).write_text('[1, 2]')
    raises_with(lambda: I_care.get_interference_per_pair('fonts', 3, 'distil', 100, 24, folder), E, os.path.basename(p), 'list')
    m = I_care.get_metadata_filtered_path('fonts', folder)
    Path(m).write_bytes(b'\xff\xfe[{"name": 1}]')
    raises_with(lambda: I_care.get_metadata_filtered('fonts', folder), E, os.path.basename(m), 'UTF-8')
    Path(m).write_text('{"name": "a"}')
    raises_with(lambda: I_care.get_metadata_filtered('fonts', folder), E, os.path.basename(m), 'list')

def _unreachable_hub(monkeypatch):
    "The real client against an endpoint where nothing listens, online mode, and a process that has not met the Hub yet."
    monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    monkeypatch.setattr(hf_constants, 'ENDPOINT', _CLOSED_PORT)
    monkeypatch.setattr(hf_constants, 'HUGGINGFACE_CO_URL_TEMPLATE', _CLOSED_PORT + '/{repo_id}/resolve/{revision}/{filename}')
    monkeypatch.setattr(U, '_HUB_DOWN', {}, raising=False)
    monkeypatch.setattr(M, '_NOTICED', set(), raising=False)

def _timed_failure(f):
    t0 = time.perf_counter()
    with pytest.raises(Exception) as ei: f()
    return time.perf_counter() - t0, ei.value

def test_unreachable_hub_fails_fast_with_advice(tmp_path, monkeypatch):
    "Without network, a download fails within 2 s with `HubUnavailableError` saying how to work offline."
    _unreachable_hub(monkeypatch)
    get = lambda: U.huggingface_dataset_file_download(str(tmp_path), 'me/testbeds', 'interference_per_entity_fonts.json', None,
                                                      folder_cache=str(tmp_path/'cache'))
    secs, e = _timed_failure(get)
    assert secs < 2, f'took {secs:.1f} s to fail: {type(e).__name__}'
    assert type(e).__name__ == 'HubUnavailableError' and 'HF_HUB_OFFLINE=1' in str(e), repr(e)
    assert isinstance(e, VisionUnlearningError) and not os.listdir(tmp_path/'cache') if (tmp_path/'cache').exists() else True

def test_hub_that_does_not_answer_fails_fast(tmp_path, monkeypatch):
    "A Hub that never answers (client patched to hang) fails within 2 s, and the next call at once."
    _unreachable_hub(monkeypatch)
    class _Hanging:
        def __init__(self, *a, **kw): pass
        def file_exists(self, *a, **kw): time.sleep(5); return True
    monkeypatch.setattr(huggingface_hub, 'HfApi', _Hanging)
    monkeypatch.setattr(huggingface_hub, 'hf_hub_download', lambda *a, **kw: time.sleep(5))
    get = lambda: U.huggingface_dataset_file_download(str(tmp_path), 'me/testbeds', 'x.json', None, folder_cache=str(tmp_path/'cache'))
    secs, e = _timed_failure(get)
    assert secs < 2 and type(e).__name__ == 'HubUnavailableError', (secs, repr(e))
    secs, e = _timed_failure(get)
    assert secs < 0.5 and type(e).__name__ == 'HubUnavailableError', (secs, repr(e))

def test_default_remote_without_network_one_notice(testbeds, tmp_path, store, monkeypatch, capsys):
    "Templates with the default remote repository and no network: computed locally, Hub never asked; fetching: one notice."
    folder = _drop_per_entity(_copy(testbeds['A'], tmp_path/'A'))
    _unreachable_hub(monkeypatch)
    kw = dict(remote_repository_name=I_care.ResultTemplate.model_fields['remote_repository_name'].default)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        t0 = time.perf_counter()
        _mma(folder, **kw).compute(); _im(folder, **kw).compute()
        I_care.ResultTemplateSignificantRelationshipNumerical(**_kw(folder, **kw), interference_entity='Emitter average rmse',
                                                              attribute='boldness').compute()
        secs = time.perf_counter() - t0
    err = capsys.readouterr().err
    hub_warnings = [str(x.message) for x in w if 'fetch' in str(x.message) or 'Hub' in str(x.message)]
    assert hub_warnings == [], hub_warnings
    assert 'HF_HUB_OFFLINE' not in err, err                              # compute never asks the Hub
    assert secs < 10, secs
    monkeypatch.setattr(U, '_NOTICED', set())
    assert I_care.fetch_published_answers([_mma(folder, **kw), _im(folder, **kw)]) == [None, None]
    assert capsys.readouterr().err.count('HF_HUB_OFFLINE=1') == 1        # asked explicitly: one notice, no answer

_OPENED:set|None = None   # files opened for reading while a template computes (None: not recording)

def _audit(event, args):
    if event == 'open' and _OPENED is not None and isinstance(args[0], (str, os.PathLike)):
        mode, flags = args[1], args[2]
        if isinstance(mode, str): reading = 'r' in mode and '+' not in mode
        else: reading = flags is not None and flags & os.O_ACCMODE == os.O_RDONLY
        if reading: _OPENED.add(os.path.realpath(args[0]))

sys.addaudithook(_audit)   # audit hooks cannot be removed; this one records only while _OPENED is a set

def _every_template(folder:str)->dict:
    "Parameters of every registered template on a small synthetic testbed (design, monospace, weight, boldness)."
    names = [e['name'] for e in I_care.get_metadata_filtered('fonts', folder)]
    me, kw = 'Emitter average rmse', _kw(folder, recompute_if_exists=True)
    alg = dict(task='fonts', base_folder=folder, remote_repository_name=None, save_outputs=False,
               recompute_if_exists=True)
    design0, both = I_care.get_metadata_filtered('fonts', folder)[0]['design'], ['distil', 'munba']
    return {'MetricMetricAlignment': dict(**kw, interference_entity_1=me, interference_entity_2='Receiver average rmse'),
            'MetricSimilarityAlignment': dict(**kw, interference_pair='rmse', similarity_metric='embedding',
                                              permutations=99),
            'MetricSimilarityAlignmentMulti': dict(**kw, interference_pair='rmse',
                                                   similarity_metric_list=['jacc', 'embedding']),
            'SignificantRelationshipNumerical': dict(**kw, interference_entity=me, attribute='boldness'),
            'SignificantRelationshipCategorical': dict(**kw, interference_entity='Receiver average rmse', attribute='design',
                                                       attribute_value=design0, min_samples_per_category=2),
            'CountSignificantRelationship': dict(**alg, unlearning_algorithm_list=both, interference_entity_list=[me],
                                                 attribute_list=['boldness', 'monospace'], min_samples_per_category=2),
            'ImplicitAssociationTest': dict(**kw, attribute_1='design', attribute_2='monospace',
                                            latent_embedding='dino_embedding'),
            'MinimumCutInterference': dict(**kw, interference_pair='rmse', entity_1=names[0], entity_2=names[-1]),
            'UnlearningVisualSummary': dict(**kw),
            'InterferenceVisualSummary': dict(**kw, interference_pair='rmse', entity_index=0),
            'InterferenceMatrix': dict(**kw, interference_pair='rmse'),
            'SimilarityMatrix': dict(**alg, similarity_metric='embedding'),
            'MethodComparisonByMetricEntity': dict(**alg, interference_entity=me, unlearning_algorithm_list=both)}

@pytest.mark.parametrize('local_table', ['derived', 'published'])
def test_every_file_a_template_reads_is_in_its_key(testbeds, tmp_path, store, local_table):
    "Every file a template opens while computing is among its `inputs()`: the cache key covers what the answer reads."
    global _OPENED
    folder = _copy(testbeds['A'], tmp_path/'A')
    if local_table == 'published': os.remove(M._provenance_path('fonts', folder))   # the per-entity file is an input
    root, missing = os.path.realpath(folder), {}
    assert set(_every_template(folder)) == set(I_care.rt_name_to_class)
    for name, params in _every_template(folder).items():
        rt = I_care.rt_name_to_class[name](**params)
        declared = set(rt.inputs())
        record = os.path.basename(M._provenance_path('fonts', '.'))
        derived = {os.path.basename(I_care.get_interference_per_entity_path('fonts')), record}
        _OPENED = set()
        try: rt.compute()
        finally: opened, _OPENED = _OPENED, None
        read = {os.path.relpath(p, root) for p in opened if p.startswith(root + os.sep) and os.path.isfile(p)}
        allowed = declared | (derived if local_table == 'derived' else {record})
        if read - allowed: missing[name] = sorted(read - allowed)[:5]
        assert read, name
    assert not missing, missing
