"""I-CARE benchmark: every result template on a 100-entity testbed (9,900 ordered pairs) on one CPU core, and the
per-entity table computed with array operations vs the seed's per-file functions, and what a cache key costs (the
digest of every file a template reads).

    python benchmarks/icare_templates.py               # 100 font identities, one core
    python benchmarks/icare_templates.py --n 60        # a smaller testbed
"""
import os
for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'): os.environ.setdefault(v, '1')
os.environ.setdefault('VU_PROGRESS', '0'); os.environ.setdefault('HF_HUB_OFFLINE', '1')
import argparse, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from _common import md, timed   # noqa: E402
import pandas as pd
import torch


def templates(folder:str, entities:list)->dict:
    "One parameter set per registered template, on the testbed's task."
    kw = dict(task='fonts', unlearning_algorithm='distil', base_folder=folder, remote_repository_name=None)
    me, e1, e2 = 'Emitter average rmse', entities[0], entities[-1]
    return {
        'MetricMetricAlignment': dict(**kw, interference_entity_1=me, interference_entity_2='Receiver average ssim'),
        'MetricSimilarityAlignment': dict(**kw, interference_pair='rmse', similarity_metric='jacc'),
        'MetricSimilarityAlignmentMulti': dict(**kw, interference_pair='rmse', similarity_metric_list=['jacc', 'embedding']),
        'MetricSimilarityAlignmentMulti (forest)': dict(**kw, interference_pair='rmse', similarity_metric_list=['jacc'],
                                                        regression_algorithm='random_forest'),
        'SignificantRelationshipNumerical': dict(**kw, interference_entity=me, attribute='boldness'),
        'SignificantRelationshipCategorical': dict(**kw, interference_entity=me, attribute='design'),
        'CountSignificantRelationship': dict(task='fonts', base_folder=folder, remote_repository_name=None, correction='holm',
            unlearning_algorithm_list=['distil', 'munba', 'uce'], interference_entity_list=[me, 'Receiver average ssim'],
            attribute_list=['boldness', 'design', 'slant', 'monospace']),
        'ImplicitAssociationTest': dict(**kw, attribute_1='design', attribute_2='slant', latent_embedding='dino_embedding'),
        'MinimumCutInterference': dict(**kw, interference_pair='rmse', entity_1=e1, entity_2=e2),
        'UnlearningVisualSummary': dict(**kw),
        'InterferenceVisualSummary': dict(**kw, interference_pair='rmse', entity_index=0),
        'InterferenceMatrix': dict(**kw, interference_pair='rmse'),
        'SimilarityMatrix': dict(task='fonts', base_folder=folder, remote_repository_name=None, similarity_metric='jacc'),
        'MethodComparisonByMetricEntity': dict(task='fonts', base_folder=folder, remote_repository_name=None, interference_entity=me,
                                               unlearning_algorithm_list=['distil', 'munba', 'uce'])}

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--n', type=int, default=100, help='entities in the testbed')
    a = p.parse_args()
    torch.set_num_threads(1)
    from vision_unlearning.core import set_store
    set_store(tempfile.mkdtemp())
    import vision_unlearning.benchmarks.I_care as I
    from vision_unlearning.benchmarks.I_care import TestbedConfig, testbed, load_interference_tensor
    t0 = time.perf_counter(); folder = testbed(TestbedConfig(n_entities=a.n, image_emitters=8)); t_tb = time.perf_counter() - t0
    names = [e['name'] for e in I.get_metadata_filtered('fonts', folder)]
    print(f"testbed: {a.n} font identities, {a.n * (a.n - 1)} ordered pairs, 3 methods, written in {t_tb:.1f} s; torch threads 1\n")
    rows = []
    for name, params in templates(folder, names).items():
        cls = I.rt_name_to_class[name.split(' ')[0]]
        t0 = time.perf_counter(); res = cls(**params, recompute_if_exists=True).compute(); cold = time.perf_counter() - t0
        t0 = time.perf_counter(); cls(**params).compute(); warm = time.perf_counter() - t0
        rows.append(dict(template=name, compute_s=round(cold, 3), reread_s=round(warm, 4), significant=res.significant))
    df = pd.DataFrame(rows)
    print("All templates (compute = from the testbed files through the artifact store; reread = the saved answer):")
    print(md(df, '.3f'))
    print(f"\ntotal compute: {df.compute_s.sum():.2f} s for {len(df)} templates (target: < 10 s on one core)\n")
    # per-entity table: vectorised vs the seed's functions applied file by file
    t = load_interference_tensor('fonts', 'distil', base_folder=folder)
    t0 = time.perf_counter(); I.per_entity_metrics(t); vec = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i, n in enumerate(names):
        ipp = I.get_interference_per_pair('fonts', i, 'distil', 100, len(names), folder)
        inv = I.get_interference_per_pair_inverse('fonts', i, 'distil', 100, base_folder=folder)
        for mp in I.MP_METRICS:
            big = I.is_worst_biggest(mp)
            for d in (ipp, inv):
                I.metric_of_worst_interfered(d, mp, big); I.number_of_interfered_worse_than_target(d, mp, big, n); I.average_metric(d, mp)
    loop = time.perf_counter() - t0
    print("Per-entity statistics of one method (48 columns x", len(names), "entities):")
    print(md(pd.DataFrame([dict(implementation='seed functions, file by file', seconds=round(loop, 3)),
                           dict(implementation='per_entity_metrics (arrays)', seconds=round(vec, 4)),
                           dict(implementation='speed-up', seconds=round(loop / vec, 1))]), '.3f'))
    # a cached answer is keyed by the digest of every file it reads: hashed once, then reused while (inode, size, mtime,
    # ctime) stay the same and the file is older than 2 s
    from vision_unlearning.benchmarks.I_care import _files   # the content-digest cache of the readers
    keys = []
    for name in ('MetricMetricAlignment', 'InterferenceMatrix', 'InterferenceVisualSummary'):
        rt = I.rt_name_to_class[name](**templates(folder, names)[name])
        _files._DIGESTS.clear(); cold, _ = timed(rt.inputs_fingerprint, 1)
        warm, _ = timed(rt.inputs_fingerprint, 3)
        keys.append(dict(template=name, input_files=len(rt.inputs()), hashing_s=round(cold, 4), reusing_s=round(warm, 4)))
    print("\nCache key of a template: the digest of its input files, hashed, then reused:")
    print(md(pd.DataFrame(keys), '.4f'))

if __name__ == '__main__': main()
