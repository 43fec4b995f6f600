"""IAM, LiRA and RMIA: the scorer against the reference's materialised computation on edge cases, batch and order
invariance, typed errors, and the Fashion-MNIST setting end to end on a small slice (shadows made once, reused by a
second setting with other forget sets and methods)."""
import numpy as np
import pytest
import torch
from scipy import stats

from vision_unlearning.core import ArtifactStore, ConfigError, InsufficientSamplesError, NonFiniteError, UnknownNameError
from vision_unlearning.core import test_raises as raises_with   # aliased: pytest would collect `test_raises`
from vision_unlearning.metrics.iam import (binui, iam_score, iam_signal, lira_score, planted_gaussian, rmia_score,
                                           true_class_prob)
from vision_unlearning.metrics.registry import Outputs, compute_metric
from vision_unlearning.experiments.iam_fmnist import IamSetting, iam_benchmark, shadow_outputs
from vision_unlearning.experiments.setting import ForgetSetSpec, MethodSpec
from vision_unlearning.unlearning import RetrainConfig
from vision_unlearning.models import CNNConfig

def reference(u, sh, a, n_alpha=100, weights='paper'):
    "The reference's interpolate_appro (Gumbel, pooled σ), materialised with NumPy and SciPy."
    al = np.linspace(0, 1, n_alpha); inter = np.stack([sh + (a - sh) * x for x in al], 1)[:, :-1]
    beta = np.sqrt(6) * np.std(inter, axis=(0, 2))[:, None] / np.pi
    F = stats.gumbel_r.cdf(u, inter.mean(0) - 0.5772 * beta, beta)
    w = al[:-1] if weights == 'paper' else al[1:]
    return 1 - (w[:, None] * F).sum(0) / w.sum()

@pytest.mark.parametrize('seed', [0, 1, 2])
def test_iam_matches_reference_on_saturated_signals(seed):
    "Real signals saturate: many p round to 1 (s = 1 exactly) for shadows, anchor and target alike."
    g = np.random.default_rng(seed)
    p = lambda *shape: np.where(g.random(shape) < .3, 1.0, g.beta(8, 1, shape))
    sh, a, u = iam_signal(p(5, 400)).numpy(), iam_signal(p(400)).numpy(), iam_signal(p(400)).numpy()
    for w in ('paper', 'reference'):
        np.testing.assert_allclose(iam_score(u, sh, a, 50, weights=w).numpy(), reference(u, sh, a, 50, w), atol=1e-10)

def test_iam_is_per_target_and_order_invariant():
    "Permuting targets permutes scores (the pooled σ is over all of them, so scoring a subset alone may differ)."
    d = planted_gaussian(500, 16, seed=3); perm = np.random.default_rng(0).permutation(500)
    full = iam_score(d['target'], d['out_shadow'], d['original'])
    np.testing.assert_allclose(iam_score(d['target'][perm], d['out_shadow'][:, perm], d['original'][perm]).numpy(),
                               full.numpy()[perm], atol=1e-12)
    sh_perm = np.random.default_rng(1).permutation(len(d['out_shadow']))     # the shadows' order does not matter
    np.testing.assert_allclose(iam_score(d['target'], d['out_shadow'][sh_perm], d['original']).numpy(), full.numpy(), atol=1e-12)

def test_lira_median_is_numpys():
    "Per-example centre over an even number of shadows: the average of the middle two, as np.median (Carlini's code)."
    sh = np.array([[1.], [2.], [3.], [10.]]); t = np.array([2.5])
    # offline cdf: Φ((t - median) / std) with median 2.5 → Φ(0) = 1/2
    assert float(lira_score(t, sh, variance='per_example').exp()) == pytest.approx(0.5, abs=1e-12)

def test_rmia_gamma_only_moves_ties():
    "The score is the population's ECDF at ratio(x)/γ: any γ ranks the untied targets alike."
    g = np.random.default_rng(0); tx, tz = g.uniform(.1, 1, 300), g.uniform(.1, 1, 2000)
    rx, rz = g.uniform(.1, 1, (4, 300)), g.uniform(.1, 1, (4, 2000))
    s1, s2 = rmia_score(tx, tz, rx, rz, gamma=1.).numpy(), rmia_score(tx, tz, rx, rz, gamma=2.).numpy()
    o = np.lexsort((s2, s1))                 # by s1, ties broken by s2: then s2 must never fall
    assert (np.diff(s2[o]) >= 0).all() and (np.diff(s1[np.lexsort((s1, s2))]) >= 0).all()
    assert len(np.unique(s1)) > 100                     # and the check is not vacuous

def test_typed_errors():
    raises_with(lambda: iam_score(np.ones(3), np.ones((2, 3)), np.ones(3), n_alpha=1), ConfigError, 'n_alpha=1')
    raises_with(lambda: lira_score(np.ones(3), np.ones((2, 3)), np.ones((3, 2), bool)), ConfigError, 'membership')
    raises_with(lambda: rmia_score(np.ones(3), np.ones(4), np.ones((2, 3)), np.ones((3, 4))), ConfigError, '2 references')
    raises_with(lambda: rmia_score(np.ones(3), np.ones(4), np.ones((2, 3)), np.ones((2, 4)), a=2.), ConfigError, 'a=2')
    u = np.ones(3); u[1] = np.inf
    raises_with(lambda: iam_score(u, np.ones((2, 3)), 1.), NonFiniteError, 'sample 1')
    raises_with(lambda: binui([.1, .2], [True, True]), InsufficientSamplesError, 'one kind')
    o = Outputs(torch.zeros(1, 4, 3), torch.zeros(4, dtype=torch.long), dict(forget=[0, 1], retain=[1, 2, 3]))
    raises_with(lambda: compute_metric('threshold', dict(unlearned=o)), ConfigError, 'share points')
    raises_with(lambda: compute_metric('rmia_online', dict(unlearned=o)), UnknownNameError, 'rmia_online')
    raises_with(lambda: Outputs(torch.zeros(2, 4, 3), torch.zeros(4, dtype=torch.long), membership=torch.zeros(2, 5)),
                ConfigError, 'membership')

def small(**kw):
    return IamSetting(**dict(dict(n_train=160, n_pool=160, n_population=80, n_shadows=2, n_halves=4, model=CNNConfig(widths=(4, 8)),
                       recipe=RetrainConfig(epochs=2, lr=0.05, momentum=0.9, milestones=(1,), batch_size=64),
                       forget_sets=(ForgetSetSpec(name='random_16', builder='random', params=dict(size=16)),),
                       methods=(MethodSpec(label='Fine-tuning', method='finetune'),), methods_on=('random_16',)), **kw))

def test_shadows_are_made_once_across_settings(tmp_path):
    "A second setting with other forget sets and methods, same data and shadows: no shadow is trained again."
    store = ArtifactStore(tmp_path)
    run = iam_benchmark(small(), n=1, store=store)
    made = store.stats['computed']
    other = small(forget_sets=(ForgetSetSpec(name='class_bag', builder='classwise', params=dict(classes=('Bag',))),),
                  methods=(MethodSpec(label='Grad Asc', method='neggrad'),), methods_on=('class_bag',))
    iam_benchmark(other, n=1, store=store)
    # new: retrained and Grad Asc for class_bag (models), their logits; the shadows', originals' models and logits are read
    assert store.stats['computed'] - made == 2 + 2
    # the shadows' outputs do not depend on the forget set
    a, b = (shadow_outputs(small(), run.data, f, 'out', store) for f in ('random_16', 'random_16'))
    assert torch.equal(a.logits, b.logits) and not a.membership[:, :160].any() and a.membership[:, 160:320].any()
