"""Unlearning methods on small real slices: each moves the original towards the retrained model on the forget set while
keeping test accuracy, the MIA separates original from retrained and finds nothing between two halves of one
population, and bad input raises typed errors.

Every claim here holds with a margin on any CPU. float32 training trajectories differ bit for bit between kernel paths
(AVX-512, AVX2, ...), and an effect of a few images on one seed passes or fails by machine (at the seed's budget,
fine-tuning raised the class-wise forget loss by 11 % with AVX-512 kernels, 16 % with AVX2 ones, 5 % on another
machine). So:

* each method runs with a budget large enough for its effect to be clear (listed in `CLASSWISE` and `IDENTITY`, with
  the effect observed under the default and the AVX2 kernels: `ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`);
* class-wise claims are checked on three originals (seeds 42, 43, 44) and must hold for a majority of them, with a
  threshold well inside the observed effect;
* the identity claims use one original and budgets whose effect is several times the threshold.

SCRUB has no class-wise claim. Its forget pass has zero gradient until the retain pass moves the student away from the
teacher, so at the seed's budget nothing happens; with lr 0.01 for 3 epochs one original's forget loss rose 2.5-fold
while another's fell 10-fold (the student became *more* confident on the forgotten class, which also raises the
divergence SCRUB maximises), the same on both kernel paths, and at lr 0.02 some originals collapse. Its effect on
identities is large and is checked there.
"""
import numpy as np, pytest, torch

from vision_unlearning.core import ConfigError, InsufficientSamplesError, UnknownNameError
from vision_unlearning.data import load_fashion_mnist, load_font_identities
from vision_unlearning.models import CNNConfig, as_inputs, build_model
from vision_unlearning.splits import make_split
from vision_unlearning.unlearning import RetrainConfig, retrain, train_from_scratch, unlearn, unlearning_methods
from vision_unlearning.metrics.nomus import attack_features, loader_accuracy, nomus, simple_mia
from vision_unlearning.experiments.mufac import font_labels

TEST_ACC_DROP = 0.25   # allowed fall of test accuracy (random labels / SalUn relabel a whole class: observed ≤ 0.12)
STRONG = dict(lr=0.05, epochs=5)
# method: (budget, forget-loss ratio (unlearned / original) reached by at least 2 of the 3 originals, forget accuracy
# no model may exceed). Observed (the three originals, default kernels | AVX2 kernels):
CLASSWISE = {
    'finetune': (STRONG, 1.15, None),                 # ratios 1.49 1.38 2.28 | 1.56 1.07 3.00
    'cf_k': (dict(STRONG, k=2), 1.15, None),          # 1.45 1.38 2.56 | 1.54 1.14 3.36 (k=2: last stage and head)
    'l1_sparse': (STRONG, 1.15, None),                # 1.50 1.40 2.31 | 1.59 1.07 3.05
    'neggrad': (dict(lr=0.002), 1.15, None),          # 1.71 4.92 1.57 | 1.54 5.76 1.35
    'advanced_neggrad': (dict(lr=0.002), 1.15, None), # 1.69 3.74 1.56 | 1.57 4.43 1.49
    'unsir1': (dict(STRONG, stage=1), 1.5, None),     # 3.40 10.1 21.7 | 3.81 7.39 31.8
    'unsir2': (dict(STRONG, stage=2), 1.5, None),     # 2.90 6.46 13.0 | 3.20 4.97 18.3
    'random_label': ({}, 10, 0.05),                   # ratios 134 361 724 | 139 233 1076, forget accuracy 0
    'salun': ({}, 10, 0.05),                          # ratios 112 312 364 | 126 205 644, forget accuracy 0
}
# method: budget. The claims: the forget-vs-unseen log-loss distance shrinks by 20 % and the MIA gap by 0.03
# (observed, default | AVX2 kernels: distance ratio, gap drop from 0.25).
IDENTITY = {
    'finetune': dict(lr=0.05, epochs=10),             # 0.657 0.090 | 0.672 0.079
    'cf_k': dict(lr=0.05, epochs=10, k=2),            # 0.607 0.119 | 0.604 0.117
    'l1_sparse': dict(lr=0.05, epochs=10),            # 0.645 0.090 | 0.662 0.081
    'neggrad': dict(lr=0.003),                        # 0.691 0.100 | 0.662 0.104
    'advanced_neggrad': dict(lr=0.01),                # 0.496 0.133 | 0.474 0.137
    'unsir1': dict(lr=0.05, epochs=3, stage=1),       # 0.265 0.167 | 0.275 0.154
    'unsir2': dict(lr=0.05, epochs=3, stage=2),       # 0.361 0.098 | 0.380 0.094
    'scrub': dict(lr=0.05, epochs=4),                 # 0.005 0.212 | 0.044 0.206
    'random_label': {},                               # 0.044 0.198 | 0.041 0.200
    'salun': {},                                      # 0.044 0.194 | 0.042 0.200
}
assert set(CLASSWISE) | {'scrub'} == set(IDENTITY) == {m + s for m in unlearning_methods if m != 'retrain'
                                                          for s in (('1', '2') if m == 'unsir' else ('',))}

def _method(name): return name.rstrip('12')
def _batches(x, y, bs=1024): return [(as_inputs(x[i:i + bs]), y[i:i + bs]) for i in range(0, len(x), bs)]

@pytest.fixture(scope='module')
def classwise():
    "Fashion-MNIST slice: 1,200 training images, forget = every image of class 1 (Trouser); 3 originals."
    d, t = load_fashion_mnist('train'), load_fashion_mnist('test')
    idx = np.random.default_rng(0).permutation(len(d))[:1200]
    forget, retain = idx[d.y[idx] == 1], idx[d.y[idx] != 1]
    keep = t.y != 1
    parts = dict(train=(d.x[idx], d.y[idx]), retain=(d.x[retain], d.y[retain]), forget=(d.x[forget], d.y[forget]),
                 test=(t.x[keep][:1000], t.y[keep][:1000]))
    rc = RetrainConfig(epochs=10, lr=0.05, milestones=())
    return parts, train_from_scratch([build_model(CNNConfig(widths=(8, 16)), 0)] * 3, parts['train'], rc)  # seeds 42-44

@pytest.fixture(scope='module')
def identities():
    "Font identities, 8-class collection task: 283 fonts × 4 glyphs; 60 forget, 60 unseen and 40 test fonts."
    d = load_font_identities(chars='AEGR', samples_per_char=1)
    y = font_labels(d.attributes, 'collection')[torch.as_tensor(d.attributes.index.get_indexer(d.identity.numpy()))]
    sp = make_split(d, 'identity', test=40, seed=0, forget=60, unseen=60)
    parts = {k: (d.x[getattr(sp, k)], y[getattr(sp, k)]) for k in ('train', 'retain', 'forget', 'unseen', 'test')}
    rc = RetrainConfig(epochs=30, lr=0.05, milestones=(10, 20))
    template = build_model(CNNConfig(widths=(16, 32), n_classes=8, input_size=32), 0)
    orig = train_from_scratch(template, parts['train'], rc)
    return parts, orig, retrain(template, parts['retain'], parts['forget'], rc)

def _losses(m, part): return attack_features(m, _batches(*part))[:, 0]
def _gap(m, parts): return simple_mia(_losses(m, parts['forget']), _losses(m, parts['unseen']))['mia_gap']

@pytest.mark.parametrize('name', CLASSWISE)
def test_classwise_forgetting(classwise, name):
    "The forget loss rises by the method's ratio for 2 of 3 originals or more; test accuracy holds for all of them."
    parts, origs = classwise
    budget, min_ratio, max_forget_acc = CLASSWISE[name]
    acc = lambda m, k: loader_accuracy(m, _batches(*parts[k]))
    unl = unlearn(_method(name), origs, parts['retain'], parts['forget'], **budget)
    ratios = [_losses(u, parts['forget']).mean() / _losses(o, parts['forget']).mean() for u, o in zip(unl, origs)]
    forget_acc = [acc(u, 'forget') for u in unl]
    test_drop = [acc(o, 'test') - acc(u, 'test') for u, o in zip(unl, origs)]
    print(f"\n{name}: forget-loss ratios {np.round(ratios, 2)}, forget acc {np.round(forget_acc, 3)}, "
          f"test drop {np.round(test_drop, 3)}")
    assert sorted(ratios)[-2] > min_ratio, (name, ratios)
    if max_forget_acc is not None: assert max(forget_acc) <= max_forget_acc, (name, forget_acc)
    assert max(test_drop) < TEST_ACC_DROP, (name, test_drop)

def test_identity_original_gap_exceeds_retrained(identities):
    "The planted effect: the MIA tells forget from unseen for the original (gap 0.25), not for the retrained (0.03)."
    parts, orig, ret = identities
    g_orig, g_ret = _gap(orig, parts), _gap(ret, parts)
    print(f"\nMIA gap: original {g_orig:.3f}, retrained {g_ret:.3f}")
    assert g_orig > g_ret + 0.1, (g_orig, g_ret)

@pytest.mark.parametrize('name', IDENTITY)
def test_identity_forget_loss_moves_to_unseen(identities, name):
    "The forget-vs-unseen log-loss distance shrinks by 20 % and the MIA gap by 0.03; test accuracy holds."
    parts, orig, _ = identities
    unl = unlearn(_method(name), orig, parts['retain'], parts['forget'], **IDENTITY[name])
    dist = lambda m: abs(np.log(_losses(m, parts['unseen']).mean()) - np.log(_losses(m, parts['forget']).mean()))
    acc = lambda m: loader_accuracy(m, _batches(*parts['test']))
    d_ratio, g_drop, a_drop = dist(unl) / dist(orig), _gap(orig, parts) - _gap(unl, parts), acc(orig) - acc(unl)
    print(f"\n{name}: distance ratio {d_ratio:.3f}, gap drop {g_drop:.3f}, test drop {a_drop:.3f}")
    assert d_ratio < 0.8, (name, d_ratio)
    assert g_drop > 0.03, (name, g_drop)
    assert a_drop < TEST_ACC_DROP, (name, a_drop)

def test_mia_on_identical_distributions_is_chance(identities):
    """The null: halves of the unseen set are told apart at chance. One halving's gap is noisy (with 120 samples per
    side: mean 0.036, 95th percentile 0.088, simulated over 320 halvings), so the mean over 8 halvings is checked
    (simulated: mean 0.036, sd 0.011, largest of 40 means 0.058) against 0.08, four sd above its mean."""
    parts, orig, _ = identities
    u = _losses(orig, parts['unseen']); n = len(u) // 2
    halvings = [np.random.default_rng(s).permutation(len(u)) for s in range(8)]
    gaps = [simple_mia(u[p[:n]], u[p[n:]])['mia_gap'] for p in halvings]
    print(f"\nnull gaps {np.round(gaps, 3)}, mean {np.mean(gaps):.3f}")
    assert np.mean(gaps) < 0.08, gaps

def test_typed_errors(classwise):
    parts, origs = classwise
    orig = origs[0]
    empty = (parts['forget'][0][:0], parts['forget'][1][:0])
    with pytest.raises(InsufficientSamplesError, match='forget is empty'): unlearn('finetune', orig, parts['retain'], empty)
    multilabel = (parts['forget'][0], torch.zeros(len(parts['forget'][1]), 10))
    with pytest.raises(ConfigError, match='label spaces do not match'): unlearn('finetune', orig, parts['retain'], multilabel)
    too_many = (parts['forget'][0], parts['forget'][1] + 20)
    with pytest.raises(ConfigError, match=r'the model predicts classes \[0, 10\)'): unlearn('neggrad', orig, parts['retain'], too_many)
    with pytest.raises(UnknownNameError, match="unknown unlearning method 'gradient_ascent'"): unlearn('gradient_ascent', orig, parts['retain'], parts['forget'])
    with pytest.raises(ConfigError, match=r'lam=1.5 must lie in \[0, 1\]'): nomus(0.9, gap=0.1, lam=1.5)
    with pytest.raises(ConfigError, match=r'lam=-0.1 must lie in \[0, 1\]'): nomus(0.9, gap=0.1, lam=-0.1)
    with pytest.raises(ConfigError, match=r'UnlearnConfig\.lr=-1'): unlearn('finetune', orig, parts['retain'], parts['forget'], lr=-1)

_RECIPES = [RetrainConfig(epochs=2, lr=0.05, milestones=(1,), gamma=0.3, batch_size=100, weight_decay=5e-4),
            RetrainConfig(schedule='onecycle', epochs=2, lr=0.05, batch_size=100, weight_decay=5e-4)]

@pytest.mark.parametrize('recipe', _RECIPES, ids=['step', 'onecycle'])
def test_recipe_is_plain_sgd_on_its_schedule(recipe):
    """`train_from_scratch` is plain SGD (momentum, weight decay, no Nesterov) on the recipe's schedule: model 0 starts
    as `build_model(cfg, seed)` and ends with the weights of a hand-written torch loop that sets the learning rate of
    every step (step: lr × gamma after each milestone, one batch stream per phase; one-cycle: linear warm-up over 20 %
    of the steps, then linear decay to 0). The same ops in the same order: observed difference 0 (tolerance 1e-5)."""
    import math, torch.nn.functional as F
    from vision_unlearning.models import batch_stream
    d, cfg = load_fashion_mnist('train'), CNNConfig(widths=(4, 8))
    x, y = as_inputs(d.x[:500]), d.y[:500]
    got = train_from_scratch(build_model(cfg, 0), (d.x[:500], y), recipe, engine='loop', device='cpu')
    ref = build_model(cfg, recipe.seed).train()
    opt = torch.optim.SGD(ref.parameters(), lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    phases = [(1, 1.0), (1, recipe.gamma)] if recipe.schedule == 'step' else [(2, None)]   # (epochs, lr factor)
    for i, (epochs, factor) in enumerate(phases):
        steps = math.ceil(epochs * 500 / recipe.batch_size)
        w = max(1, round(recipe.warmup * steps))
        for t, idx in enumerate(batch_stream(np.arange(500), steps, recipe.batch_size, recipe.seed * 1_000_003 + i * 101)):
            f = factor if factor is not None else ((t + 1) / w if t < w else (steps - t) / (steps - w))
            for g in opt.param_groups: g['lr'] = recipe.lr * f
            opt.zero_grad(); F.cross_entropy(ref(x[idx]), y[idx]).backward(); opt.step()
    for (k, a), b in zip(got.state_dict().items(), ref.state_dict().values()):
        assert (a - b).abs().max() < 1e-5, (k, (a - b).abs().max())
