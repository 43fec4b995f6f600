"""Unlearning methods on small real slices: each moves the original towards the retrained model on the forget set while
keeping test accuracy, the MIA separates original from retrained, and bad input raises typed errors.

The slices are small so the whole module runs in about a minute on 2 CPU cores. Methods that only descend a loss on
the retain set (fine-tuning, CF-k, l1-sparse, UNSIR) run with a stronger budget than the seed's (lr 0.01
instead of 0.001, 3 epochs instead of 2; SCRUB on identities lr 0.05, 4 epochs): at the seed's settings they move a model trained for a few seconds too little
to measure on a slice this small. Gradient ascent, random labels and SalUn run with their defaults (a larger
learning rate makes the unbounded ascent diverge).
"""
import numpy as np, pytest, torch

from vision_unlearning.core import ConfigError, InsufficientSamplesError, UnknownNameError
from vision_unlearning.data import load_fashion_mnist, load_font_identities
from vision_unlearning.models import CNNConfig, as_inputs, build_model
from vision_unlearning.splits import make_split
from vision_unlearning.unlearning import RetrainConfig, retrain, train_from_scratch, unlearn, unlearning_methods
from vision_unlearning.evaluation.nomus import attack_features, loader_accuracy, nomus, simple_mia
from vision_unlearning.evaluation.nomus_benchmark import font_labels

STRONG = dict(lr=0.01, epochs=3)
def BUDGET(method, identity=False):
    # SCRUB's forget pass has zero gradient until its retain pass moves the student away from the teacher
    if method == 'scrub' and identity: return dict(lr=0.05, epochs=4)
    return {} if method in ('neggrad', 'advanced_neggrad', 'random_label', 'salun') else STRONG
METHODS = [(m, dict(stage=s) if m == 'unsir' else {}) for m in unlearning_methods if m != 'retrain' for s in ((1, 2) if m == 'unsir' else (0,))]
TEST_ACC_DROP = 0.25                                # allowed fall of test accuracy (random labels / SalUn relabel a whole class)

def _batches(x, y, bs=1024): return [(as_inputs(x[i:i + bs]), y[i:i + bs]) for i in range(0, len(x), bs)]

@pytest.fixture(scope='module')
def classwise():
    "Fashion-MNIST slice: 1,200 training images, forget = every training image of class 1 (Trouser)."
    d, t = load_fashion_mnist('train'), load_fashion_mnist('test')
    idx = np.random.default_rng(0).permutation(len(d))[:1200]
    forget, retain = idx[d.y[idx] == 1], idx[d.y[idx] != 1]
    keep = t.y != 1
    parts = dict(train=(d.x[idx], d.y[idx]), retain=(d.x[retain], d.y[retain]), forget=(d.x[forget], d.y[forget]),
                 test=(t.x[keep][:1000], t.y[keep][:1000]))
    rc = RetrainConfig(epochs=10, lr=0.05, milestones=())
    template = build_model(CNNConfig(widths=(8, 16)), 0)
    return parts, train_from_scratch(template, parts['train'], rc), retrain(template, parts['retain'], parts['forget'], rc)

@pytest.fixture(scope='module')
def identities():
    "Font identities, 8-class collection task: 283 fonts × 4 glyphs; 60 forget, 60 unseen and 40 test fonts."
    d = load_font_identities(chars='AEGR', samples_per_char=1)
    y = font_labels(d.attributes, 'collection')[torch.as_tensor(d.attributes.index.get_indexer(d.identity.numpy()))]
    sp = make_split(d, 'identity', test=40, seed=0, forget=60, unseen=60)
    parts = {k: (d.x[getattr(sp, k)], y[getattr(sp, k)]) for k in ('train', 'retain', 'forget', 'unseen', 'test')}
    rc = RetrainConfig(epochs=30, lr=0.05, milestones=(10, 20))
    template = build_model(CNNConfig(widths=(16, 32), n_classes=8, input_size=32), 0)
    return parts, train_from_scratch(template, parts['train'], rc), retrain(template, parts['retain'], parts['forget'], rc)

def _losses(m, part): return attack_features(m, _batches(*part))[:, 0]
def _gap(m, parts): return simple_mia(_losses(m, parts['forget']), _losses(m, parts['unseen']))['mia_gap']

@pytest.mark.parametrize('method,params', METHODS, ids=[f"{m}{p.get('stage', '')}" for m, p in METHODS])
def test_classwise_forget_accuracy_falls(classwise, method, params):
    parts, orig, _ = classwise
    acc = lambda m, k: loader_accuracy(m, _batches(*parts[k]))
    unl = unlearn(method, orig, parts['retain'], parts['forget'], **BUDGET(method), **params)
    assert acc(unl, 'forget') < acc(orig, 'forget'), (method, acc(unl, 'forget'), acc(orig, 'forget'))
    assert _losses(unl, parts['forget']).mean() > 1.1 * _losses(orig, parts['forget']).mean()
    assert acc(unl, 'test') > acc(orig, 'test') - TEST_ACC_DROP

def test_identity_original_gap_exceeds_retrained(identities):
    parts, orig, ret = identities
    assert _gap(orig, parts) > _gap(ret, parts) + 0.05

@pytest.mark.parametrize('method,params', METHODS, ids=[f"{m}{p.get('stage', '')}" for m, p in METHODS])
def test_identity_forget_loss_moves_to_unseen(identities, method, params):
    parts, orig, _ = identities
    unl = unlearn(method, orig, parts['retain'], parts['forget'], **BUDGET(method, identity=True), **params)
    dist = lambda m: abs(np.log(_losses(m, parts['unseen']).mean()) - np.log(_losses(m, parts['forget']).mean()))
    assert dist(unl) < dist(orig), (method, dist(unl), dist(orig))
    assert _gap(unl, parts) < _gap(orig, parts), (method, _gap(unl, parts), _gap(orig, parts))
    acc = lambda m: loader_accuracy(m, _batches(*parts['test']))
    assert acc(unl) > acc(orig) - TEST_ACC_DROP

def test_mia_on_identical_distributions_is_chance(identities):
    parts, orig, _ = identities
    u = _losses(orig, parts['unseen']); half = np.random.default_rng(0).permutation(len(u))
    assert simple_mia(u[half[:len(u) // 2]], u[half[len(u) // 2:]])['mia_gap'] < 0.05

def test_typed_errors(classwise):
    parts, orig, _ = classwise
    empty = (parts['forget'][0][:0], parts['forget'][1][:0])
    with pytest.raises(InsufficientSamplesError, match='forget is empty'): unlearn('finetune', orig, parts['retain'], empty)
    multilabel = (parts['forget'][0], torch.zeros(len(parts['forget'][1]), 10))
    with pytest.raises(ConfigError, match='label spaces do not match'): unlearn('finetune', orig, parts['retain'], multilabel)
    too_many = (parts['forget'][0], parts['forget'][1] + 20)
    with pytest.raises(ConfigError, match=r'the model predicts classes \[0, 10\)'): unlearn('neggrad', orig, parts['retain'], too_many)
    with pytest.raises(UnknownNameError, match="unknown unlearning method 'gradient_ascent'"): unlearn('gradient_ascent', orig, parts['retain'], parts['forget'])
    with pytest.raises(ConfigError, match=r'lam=1.5 must lie in \[0, 1\]'): nomus(0.9, gap=0.1, lam=1.5)
    with pytest.raises(ConfigError, match=r'lam=-0.1 must lie in \[0, 1\]'): nomus(0.9, gap=0.1, lam=-0.1)
    with pytest.raises(Exception, match='lr'): unlearn('finetune', orig, parts['retain'], parts['forget'], lr=-1)
