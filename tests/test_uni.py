"""UNI: typed errors, the artifact store's caching of attributions (keyed by model, images, targets and config), batch
invariance of the vectorised steps, the completeness bound on random CNNs, and behaviour with margins: a planted
relevant region is found by every path method, and the attributions follow the model (randomisation check)."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from vision_unlearning.core import ArtifactStore, ConfigError, NonFiniteError
from vision_unlearning.core import test_raises as raises_with   # aliased: pytest would collect `test_raises`
from vision_unlearning.metrics.uni import (BadInputError, PixelModel, UniConfig, attribute, deletion_insertion,
                                           mufidelity, pixel_model, randomisation_check, uni, unlearn_step)
from vision_unlearning.models import CNNConfig, build_model

CFG = CNNConfig()

def cnn(seed:int=0)->PixelModel: return pixel_model(CFG, build_model(CFG, seed).state_dict())

@pytest.fixture(scope='module')
def images():
    g = torch.Generator().manual_seed(0); return torch.rand(12, 1, 28, 28, generator=g), torch.arange(12) % 10

@pytest.mark.parametrize('params, words', [(dict(eps=0), ['eps']), (dict(eps=-1.), ['eps']), (dict(B=0), ['B']),
                                           (dict(T=-1), ['T']), (dict(output='logits'), ['output'])])
def test_bad_config(params, words):
    raises_with(lambda: UniConfig(**params), ConfigError, *words)

def test_bad_inputs(images):
    x, y = images; m = cnn()
    raises_with(lambda: uni(m, x[:, :, :27], y), BadInputError, 'N×1×28×28', '27')
    raises_with(lambda: uni(m, x.expand(-1, 3, -1, -1), y), BadInputError, 'N×1×28×28')
    raises_with(lambda: uni(m, x, y + 10), BadInputError, 'target class 19', '0..9')
    bad = x.clone(); bad[4, 0, 3, 3] = float('nan')
    raises_with(lambda: uni(m, bad, y), NonFiniteError, 'image 4')
    raises_with(lambda: uni(m, x, y.float()), BadInputError, 'integers')
    raises_with(lambda: attribute(m, x, y, 'no_such_method'), Exception, 'no_such_method')

def test_attributions_are_cached_by_model_images_and_config(images, tmp_path):
    x, y = images; store = ArtifactStore(tmp_path); m = cnn()
    a = attribute(m, x, y, 'uni', store=store, T=2)
    assert store.stats['computed'] == 1
    torch.testing.assert_close(attribute(m, x, y, 'uni', store=store, T=2), a); assert store.stats['computed'] == 1
    attribute(m, x, y, 'uni', store=store, T=3); assert store.stats['computed'] == 2            # config
    attribute(m, x[:6], y[:6], 'uni', store=store, T=2); assert store.stats['computed'] == 3    # images
    attribute(m, x, (y + 1) % 10, 'uni', store=store, T=2); assert store.stats['computed'] == 4  # targets
    attribute(cnn(1), x, y, 'uni', store=store, T=2); assert store.stats['computed'] == 5       # weights

def test_vectorised_steps_are_per_image(images):
    "Chunking and batch composition do not change any image's result (compared in float64)."
    x, y = images; m = cnn().double(); x = x.double()
    full = uni(m, x, y, UniConfig(batch_size=12), progress_bar=False)
    parts = uni(m, x, y, UniConfig(batch_size=5), progress_bar=False)
    torch.testing.assert_close(full.attributions, parts.attributions, rtol=1e-9, atol=1e-12)
    th = unlearn_step(m, x, y); th1 = unlearn_step(m, x[3:4], y[3:4])
    for k in th: torch.testing.assert_close(th[k][3], th1[k][0], rtol=1e-10, atol=1e-12)

@pytest.mark.parametrize('seed', [0, 1, 2])
def test_completeness_within_bound_and_shrinks_with_B(images, seed):
    "On random CNNs: |gap| ≤ a small multiple of the estimated bound, and the gap shrinks from B = 2 to B = 32."
    x, y = images; m = cnn(seed).double(); x = x.double()
    r2 = uni(m, x, y, UniConfig(B=2, eps=2., mu=0.8), progress_bar=False)
    r32 = uni(m, x, y, UniConfig(B=32, eps=2., mu=0.8), progress_bar=False)
    assert (r32.gap.abs() <= 2 * r32.bound + 1e-12).all()
    assert r32.gap.abs().mean() < r2.gap.abs().mean() / 4

@pytest.mark.parametrize('seed', [0, 1, 2])
def test_planted_region_is_found(seed):
    "A model whose class-0 logit is the mean of a planted 8×8 patch: every path method puts its mass there."
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(1, 28, 28); r, c = torch.randint(0, 20, (2,), generator=g); mask[:, r:r + 8, c:c + 8] = 1
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 2)); net[1].weight.data.zero_(); net[1].bias.data.zero_()
    net[1].weight.data[0] = 2 * mask.flatten() / mask.sum()   # logit in [1, 2]: not saturated (see the next test)
    m = PixelModel(net, (1, 28, 28), 2, 1., 0.).eval().requires_grad_(False)
    x = torch.rand(8, 1, 28, 28, generator=g) * 0.5 + 0.5; y = torch.zeros(8, dtype=torch.long)
    for method, p in [('uni', dict(eps=2., mu=0.8)), ('ig', dict(baseline='black')), ('gradient', {})]:
        A = attribute(m, x, y, method, store=False, **p)
        share = (A * mask).abs().sum((1, 2, 3)) / A.abs().sum((1, 2, 3))
        assert (share > 0.99).all(), (method, share)
        d = deletion_insertion(m, x, y, A)
        assert (d['deletion_auc'] < deletion_insertion(m, x, y, torch.rand_like(A))['deletion_auc']).all()
    # a null: attributions unrelated to the model's use of the pixels have MuFidelity near 0
    fid = mufidelity(m, x, y, torch.rand(8, 1, 28, 28, generator=g))
    assert abs(np.nanmean(fid)) < 0.3

def test_randomisation_check_separates():
    "A planted model's attributions sit on its patch; re-initialised, they do not: ρ is low."
    mask = torch.zeros(1, 28, 28); mask[:, 4:12, 10:18] = 1
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 2)); net[1].weight.data.zero_(); net[1].bias.data.zero_()
    net[1].weight.data[0] = 2 * mask.flatten() / mask.sum()
    m = PixelModel(net, (1, 28, 28), 2, 1., 0.).eval().requires_grad_(False)
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0)); y = torch.zeros(8, dtype=torch.long)
    for method, p in [('uni', dict(eps=2., mu=0.8)), ('ig', dict(baseline='black')), ('gradient', {})]:
        assert abs(np.nanmean(randomisation_check(m, x, y, method, **p))) < 0.3, method

def test_saturated_model_gives_zero_uni_attributions():
    "Where F_c rounds to 1, the unlearning step vanishes, x′ = x and UNI attributes nothing (documented in 23_uni)."
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 2)); net[1].weight.data.zero_(); net[1].bias.data[:] = torch.tensor([40., 0.])
    m = PixelModel(net, (1, 28, 28), 2, 1., 0.).eval().requires_grad_(False)
    r = uni(m, torch.rand(3, 1, 28, 28), torch.zeros(3, dtype=torch.long), progress_bar=False)
    assert (r.attributions == 0).all() and (r.objective == 0).all()

def test_uni_change_through_the_registry_on_a_small_setting(tmp_path):
    "Models from the zoo via `role_outputs(..., with_models=True)`; the retrained row judged against itself scores 1."
    from vision_unlearning.experiments.iam_fmnist import IamSetting, iam_data
    from vision_unlearning.experiments.setting import ForgetSetSpec, MethodSpec, role_outputs
    from vision_unlearning.metrics.registry import MissingModelsError, compute_metric
    from vision_unlearning.unlearning import RetrainConfig
    s = IamSetting(name='uni_test', n_train=80, n_pool=20, n_population=20, n_shadows=1, n_halves=2,
                   recipe=RetrainConfig(epochs=2, batch_size=32), model=CNNConfig(),
                   forget_sets=(ForgetSetSpec(name='r10', builder='random', params=dict(size=10)),),
                   methods=(MethodSpec(label='Grad Asc', method='neggrad'),), methods_on=('r10',))
    d = iam_data(s); store = ArtifactStore(tmp_path)
    o = {r: role_outputs(s, 'r10', r, 1, d, store, with_models=True) for r in ('Original', 'Retrained', 'Grad Asc')}
    assert o['Original'].x is d.x and len(o['Original'].models) == 1
    same = compute_metric('uni_change', dict(unlearned=o['Retrained'], original=o['Original'], oracle=o['Retrained']), uni=dict(T=2))
    assert same.agg_value == pytest.approx(1.0) and same.value_by_index['corr_delta'].shape == (1, 10)
    r = compute_metric('uni_change', dict(unlearned=o['Grad Asc'], original=o['Original'], oracle=o['Retrained']), uni=dict(T=2))
    assert -1 <= r.agg_value <= 1 and r.metadata['models'] == {'unlearned': 1, 'original': 1, 'oracle': 1}
    bare = role_outputs(s, 'r10', 'Original', 1, d, store)
    raises_with(lambda: compute_metric('uni_change', dict(unlearned=bare, original=bare, oracle=bare)), MissingModelsError,
                'with_models=True')
