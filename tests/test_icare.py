"""I-CARE statistics on planted testbeds: planted effects are found, and under the null each template rejects no more
often than its significance level allows (binomial tail check over repeated null seeds)."""
import re
from pathlib import Path

import pytest
from scipy import stats

from vision_unlearning.benchmarks.I_care.interference import TestbedConfig, write_testbed
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
    "A per-entity table or template answer absent locally is fetched from the Hub repo (client patched); offline, it is computed."
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
    rt.compute()                                                          # not on the hub: computed and saved
    assert ('exists', 'me/testbeds', os.path.relpath(rt.path(), folder)) in calls and os.path.exists(rt.path())
