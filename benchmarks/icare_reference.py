"""I-CARE against the reference package: the published `vision-unlearning` 1.0.0 and ours, run on the same people
testbed (100 synthetic people with the published fields, 3 methods), with an agreement table
template | reference | ours | agree | why not.

    python benchmarks/icare_reference.py                   # creates the reference's venv on first use (PyPI)
    python benchmarks/icare_reference.py --venv /tmp/ref   # where that venv lives
    python benchmarks/icare_reference.py --pandas '>=3'    # the reference with pandas 3: where it breaks
    python benchmarks/icare_reference.py --fixture tests/data/icare_reference_1.0.0.json.gz   # the test's answers

Both packages are named `vision_unlearning`, so the reference runs in its own venv (`vision-unlearning==1.0.0`
without its dependencies, `pandas<3` and the few libraries its I-CARE modules import; no torch), in a subprocess whose
working folder holds `assets`, a copy of the testbed (several of its readers ignore `base_folder`).
"""
import os
for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'): os.environ.setdefault(v, '1')
os.environ.setdefault('VU_PROGRESS', '0'); os.environ.setdefault('HF_HUB_OFFLINE', '1')
import argparse, gzip, json, shutil, subprocess, sys, tempfile, textwrap, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _common import md   # noqa: E402
import numpy as np
import pandas as pd

REFERENCE = 'vision-unlearning==1.0.0'
REFERENCE_DEPS = ['numpy', 'scipy', 'matplotlib', 'seaborn', 'pydantic', 'huggingface_hub', 'scikit-learn',
                  'pillow', 'requests', 'pyyaml', 'networkx', 'shap']
ME = ['Emitter average clip diff', 'Receiver average clip diff', 'Emitter worst interfered rmse',
      'Emitter number of interfered worse than target ssim']
ATTRS = ['gender', 'occupation', 'race', 'birthyear', 'hpi']
METHODS = ['distil', 'munba', 'uce']
FLOW = dict(attribute='occupation_simplified', value='Politician')


def reference_venv(path:str, pandas:str='<3')->str:
    "The reference's python, creating its venv (with `pandas{pandas}`) on first use."
    py = os.path.join(path, 'bin', 'python')
    if not os.path.exists(py):
        subprocess.run([sys.executable, '-m', 'venv', path], check=True, capture_output=True)
        pip = [py, '-m', 'pip', 'install', '-q', '--disable-pip-version-check']
        for args in (['--no-deps', REFERENCE], [f'pandas{pandas}'] + REFERENCE_DEPS):   # pip's notes on the
            r = subprocess.run(pip + args, capture_output=True, text=True)          # skipped dependencies are noise
            if r.returncode: raise RuntimeError(f"pip install {' '.join(args)} failed:\n{r.stderr[-2000:]}")
    return py


REFERENCE_SCRIPT = textwrap.dedent('''
    import json, sys, time, traceback, warnings
    warnings.filterwarnings('ignore')
    import numpy as np, pandas as pd
    import vision_unlearning.benchmarks.I_care as I
    from vision_unlearning.benchmarks.I_care import pipeline_07_compute_interference_per_entity as p07
    ME, ATTRS, METHODS, FLOW = json.loads(sys.argv[1])
    out = dict(versions=dict(pandas=pd.__version__))
    def attempt(key, f):
        try: out[key] = f()
        except Exception as e: out[key] = dict(error=f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}")
    def per_entity():
        t0 = time.perf_counter()
        p07.compute_for_task('people', METHODS, [I.unlearning_algorithm_to_epochs['people'][m] for m in METHODS], 0, 100,
                             'assets/datasets', 'assets')
        return dict(seconds=time.perf_counter() - t0)
    attempt('per_entity', per_entity)
    kw = dict(recompute_if_exists=True, save_outputs=False)
    res = lambda d: {k: v for k, v in d['result'].items() if k not in ('x', 'y', 'colors')}
    for a in ATTRS:
        cls = I.ResultTemplateSignificantRelationshipNumerical if a in ('birthyear', 'hpi') else I.ResultTemplateSignificantRelationshipCategorical
        attempt(f'sr_{a}', lambda: res(cls(task='people', unlearning_algorithm='distil', interference_entity=ME[0],
                                           attribute=a, **kw).compute()))
    attempt('flow', lambda: res(I.ResultTemplateSignificantRelationshipCategoricalDirectional(task='people',
        unlearning_algorithm='distil', interference_pair='clip_diff', attribute=FLOW['attribute'],
        source_attribute_value=FLOW['value'], **kw).compute()))
    from vision_unlearning.datasets.testbed import get_metadata_filtered
    meta = get_metadata_filtered('people'); names = [r['name'] for r in meta]
    attempt('jacc', lambda: [[I.jacc_metric_score(a, b, meta) for b in names] for a in names])
    attempt('msa', lambda: res(I.ResultTemplateMetricSimilarityAlignment(task='people', unlearning_algorithm='distil',
        interference_pair='rmse', similarity_metric='jacc', **kw).compute()))
    attempt('csr', lambda: {k: v for k, v in I.ResultTemplateCountSignificantRelationship(task='people',
        unlearning_algorithm_list=METHODS, interference_entity_list=ME, attribute_list=ATTRS, top_n=1000,
        **kw).compute()['result'].items() if k in ('rows', 'total_count', 'total')})
    json.dump(out, open('reference.json', 'w'), default=float)
''')


def run_reference(py:str, folder:str)->dict:
    "Run the reference's templates on `folder` (as ./assets of a scratch working folder); its answers as a dict."
    work = tempfile.mkdtemp(); shutil.copytree(folder, os.path.join(work, 'assets'))   # it writes into the folder
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')} | {'MPLBACKEND': 'Agg'}
    r = subprocess.run([py, '-c', REFERENCE_SCRIPT, json.dumps([ME, ATTRS, METHODS, FLOW])], cwd=work, env=env,
                       capture_output=True, text=True)
    if r.returncode: raise RuntimeError(f"the reference crashed outside its templates:\n{r.stderr[-3000:]}")
    out = json.load(open(os.path.join(work, 'reference.json')))
    path = os.path.join(work, 'assets', 'interference_per_entity_people.json')
    if not _err(out['per_entity']):   # its per-entity table, metric columns only
        out['per_entity_table'] = pd.read_json(path).set_index('name').filter(like='metric_').to_dict('split')
    return out


def ours(folder:str)->dict:
    "The same questions answered by this package."
    import vision_unlearning.benchmarks.I_care as I
    kw = dict(task='people', base_folder=folder, remote_repository_name=None, recompute_if_exists=True, save_outputs=False)
    import warnings; warnings.filterwarnings('ignore', category=RuntimeWarning)   # Kruskal-Wallis of all-tied groups
    out = {}
    t0 = time.perf_counter(); out['per_entity_table'] = pd.DataFrame(I.compute_interference_per_entity('people', base_folder=folder))
    out['per_entity'] = dict(seconds=time.perf_counter() - t0)
    for a in ATTRS:
        cls = (I.ResultTemplateSignificantRelationshipNumerical if a in ('birthyear', 'hpi')
               else I.ResultTemplateSignificantRelationshipCategorical)
        out[f'sr_{a}'] = cls(**kw, unlearning_algorithm='distil', interference_entity=ME[0], attribute=a).compute().result
    out['flow'] = I.ResultTemplateSignificantRelationshipCategorical(**kw, unlearning_algorithm='distil',
        interference_entity='Receiver average clip diff', attribute=FLOW['attribute'],
        attribute_value=FLOW['value']).compute().result
    meta = I.get_metadata_filtered('people', folder)
    out['jacc'] = {j: I.jacc_similarity_matrix(meta, jaccard=j).values for j in ('attributes', 'reference')}
    out['msa'] = {j: I.ResultTemplateMetricSimilarityAlignment(**kw, unlearning_algorithm='distil', interference_pair='rmse',
                                                               similarity_metric='jacc', jaccard=j).compute().result
                  for j in ('attributes', 'reference')}
    out['csr'] = {t: I.ResultTemplateCountSignificantRelationship(**kw, unlearning_algorithm_list=METHODS,
                      interference_entity_list=ME, attribute_list=ATTRS, top_n=1000, test=t).compute().result
                  for t in ('parametric', 'either')}
    return out


def _err(d): return d.get('error') if isinstance(d, dict) else None
def _close(a, b, tol=1e-9): return abs(a - b) <= tol * max(1., abs(a), abs(b))


def agreement(ref:dict, our:dict)->pd.DataFrame:
    "One row per question: what each package answered, whether they agree, and why not."
    rows = []
    def row(template, r, o, agree, why=''): rows.append(dict(template=template, reference=r, ours=o, agree=agree, why_not=why))
    from vision_unlearning.benchmarks.I_care import parse_per_entity_column
    if _err(ref['per_entity']): row('per-entity table', _err(ref['per_entity']), 'built', False, 'the reference crashed')
    else:
        t = ref['per_entity_table']; R = pd.DataFrame(t['data'], index=t['index'], columns=t['columns'])
        O = our['per_entity_table'].set_index('name')
        by_parts = lambda df: {p: c for c in df if (p := parse_per_entity_column(c))}   # (method, epochs, slug), arrow aside
        rc, oc = by_parts(R), by_parts(O)
        same = [s for s in rc if s in oc and np.allclose(R[rc[s]].astype(float), O.loc[R.index, oc[s]].astype(float),
                                                          atol=1e-9, equal_nan=True)]
        arrows = [s for s in rc if s in oc and rc[s].split(' ')[1] != oc[s].split(' ')[1]]
        differ = sorted(p.slug for p in set(rc) - set(same))
        row('per-entity table: values', f'{len(rc)} columns', f'{len(oc)} columns, {len(same)} equal', len(same) == len(rc),
            '' if not differ else f'differ: {", ".join(differ[:4])}')
        row('per-entity table: arrows', f'{len(arrows)} arrows differ', f'{len(arrows)} arrows differ', not arrows,
            'by design: emitter_minus_receiver_worst of clip_diff, ssim is ↑ here, ↓ in 1.0.0 (10a)' if arrows else '')
        row('per-entity table: seconds', f"{ref['per_entity']['seconds']:.2f}", f"{our['per_entity']['seconds']:.2f}", True,
            'timing, not an answer')
    for a in ATTRS:
        r, o = ref[f'sr_{a}'], our[f'sr_{a}']
        kind = ('pearson', 'spearman') if a in ('birthyear', 'hpi') else ('anova', 'kruskal')
        name = f"SR-{'Numerical' if kind[0] == 'pearson' else 'Categorical'} {a}"
        if _err(r): row(name, _err(r), f"p={o[kind[0] + '_pvalue']:.3g}", False, 'the reference crashed'); continue
        ok = all(_close(r[f'{k}_{s}'], o[f'{k}_{s}']) for k in kind for s in ('statistic', 'pvalue'))
        row(name, f"{kind[0]} {r[kind[0] + '_statistic']:.4g}, p={r[kind[0] + '_pvalue']:.3g}",
            f"{kind[0]} {o[kind[0] + '_statistic']:.4g}, p={o[kind[0] + '_pvalue']:.3g}", ok)
    r, o = ref['flow'], our['flow']
    name = f"SR-Categorical flow from {FLOW['attribute']}={FLOW['value']}"
    if _err(r): row(name, _err(r), f"F={o['anova_statistic']:.4g}, n={o['n_samples']}", False, 'the reference crashed')
    else:
        ok = _close(r['anova_statistic'], o['anova_statistic']) and _close(r['kruskal_statistic'], o['kruskal_statistic'])
        row(name + ' (1.0.0: CategoricalDirectional)', f"F={r['anova_statistic']:.4g}, p={r['anova_pvalue']:.3g}",
            f"F={o['anova_statistic']:.4g}, p={o['anova_pvalue']:.3g}, {o['n_samples']} receivers", ok)
    r = ref['jacc']
    if _err(r): row('jacc similarity', _err(r), '', False, 'the reference crashed')
    else:
        R = np.array(r); d_ref, d_att = (float(np.abs(our['jacc'][j] - R).max()) for j in ('reference', 'attributes'))
        row("jacc, jaccard='reference'", 'matrix', f'max abs. difference {d_ref:.1e}', d_ref < 1e-12)
        row("jacc, jaccard='attributes' (default)", 'matrix', f'max abs. difference {d_att:.3f}', False,
            'by design: 1.0.0 also counts the name and dataset_n_original')
    r, o = ref['msa'], our['msa']
    if _err(r): row('MetricSimilarityAlignment rmse~jacc', _err(r), f"r={o['reference']['pearson_statistic']:.3f}", False,
                    'the reference crashed')
    else:
        for j in ('reference', 'attributes'):
            oj = o[j]
            row(f"MetricSimilarityAlignment rmse~jacc, jaccard='{j}'",
                f"r={r['pearson_statistic']:.3f}, parametric p={r['pearson_pvalue']:.2g}, significant={r['significant']}",
                f"r={oj['pearson_statistic']:.3f}, parametric p={oj['pearson_pvalue']:.2g}, Mantel p={oj['mantel_pvalue']:.3g}",
                j == 'reference' and _close(r['pearson_statistic'], oj['pearson_statistic'])
                and r['significant'] == oj['significant_parametric'],
                '' if j == 'reference' else 'by design: jacc (above)')
    r, o = ref['csr'], our['csr']
    if _err(r): row('CountSignificantRelationship', _err(r), f"{o['either']['total_count']} of {o['either']['total']}", False,
                    'the reference crashed')
    else:
        key = lambda x: (x['unlearning_algorithm'], x['interference_entity'], x['attribute'])
        rf = {key(x): bool(x['significant']) for x in r['rows']}
        for t in ('either', 'parametric'):
            of = {key(x): bool(x['significant']) for x in o[t]['rows']}
            eq = sum(rf.get(k) == v for k, v in of.items())
            untested = [k for k in rf if k not in of]   # ours skips them (InsufficientSamplesError), 1.0.0 counts them
            why = ([f"{len(untested)} untestable (a constant metric): skipped here, not significant in 1.0.0"]
                   if untested else [])
            dropped = [k for k in of if k not in rf]
            why += [f"1.0.0 left out {len(dropped)} (its templates raised)"] if dropped else []
            why += [] if t == 'either' else ['1.0.0 counts either test']
            row(f"CountSignificantRelationship, test='{t}'", f"{r['total_count']} of {r['total']}",
                f"{o[t]['total_count']} of {o[t]['total']}; {eq} of {len(of)} flags equal",
                eq == len(of) and not dropped and not any(rf[k] for k in untested) and r['total_count'] == o[t]['total_count'],
                '; '.join(why))
    return pd.DataFrame(rows)


def people_testbed(n:int=100)->'TestbedConfig':
    "The testbed of the comparison: `n` synthetic people, planted shared occupation_simplified and emitter hpi."
    from vision_unlearning.benchmarks.I_care import TestbedConfig
    return TestbedConfig(task='people', entities='people', n_entities=n, image_emitters=1,
                         pair_effects={'occupation_simplified': .3}, emitter_effects={'hpi': .5})


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--venv', default=None, help='the reference venv (default ~/.cache/vision_unlearning/icare_reference_pandas...)')
    p.add_argument('--pandas', default='<3', help="pandas version spec for the reference, e.g. '>=3' to see where it breaks")
    p.add_argument('--n', type=int, default=100, help='people in the testbed')
    p.add_argument('--fixture', default=None, help="also write the reference's answers to this gzipped JSON file")
    a = p.parse_args()
    from vision_unlearning.core import set_store
    set_store(tempfile.mkdtemp())
    from vision_unlearning.benchmarks.I_care import write_testbed
    folder = write_testbed(tempfile.mkdtemp(), people_testbed(a.n))
    venv = a.venv or os.path.expanduser('~/.cache/vision_unlearning/icare_reference_pandas'
                                        + a.pandas.replace('<', 'lt').replace('>=', 'ge').replace('=', ''))
    t0 = time.perf_counter()
    try: py = reference_venv(venv, a.pandas)
    except (RuntimeError, subprocess.CalledProcessError) as e:   # no package index here: say so, compare nothing
        print(f"SKIPPED: the reference ({REFERENCE}) cannot be installed on this machine ({str(e).splitlines()[0]}). "
              "tests/test_icare_reference.py still checks ours against its recorded answers.")
        return
    t_venv = time.perf_counter() - t0
    ref = run_reference(py, folder); our = ours(folder)
    if a.fixture:   # the reference's answers, for tests/test_icare_reference.py (which runs without the reference)
        with gzip.open(a.fixture, 'wt') as f:
            json.dump(dict(reference=REFERENCE, n=a.n, pandas=ref['versions']['pandas'], answers=ref), f, default=float)
    print(f"testbed: {a.n} synthetic people (published fields), methods {METHODS}, planted: same occupation_simplified, "
          f"emitter hpi; reference venv ready in {t_venv:.0f} s (pandas {ref['versions']['pandas']})\n")
    df = agreement(ref, our)
    print(md(df))
    print(f"\n{int(df.agree.sum())} of {len(df)} rows agree")


if __name__ == '__main__':
    main()
