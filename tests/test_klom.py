"""KLOM: the formula against hand examples and the reference recipe, typed errors, the release reader on a tiny tree,
and the benchmark pipeline end to end on a small slice of Fashion-MNIST (growing N reuses stored models)."""
import numpy as np
import pytest
import torch
from scipy import stats

from vision_unlearning.core import (ArtifactStore, ConfigError, DataNotFoundError, InsufficientSamplesError, NonFiniteError,
                                    UnknownNameError)
from vision_unlearning.core import test_raises as raises_with   # aliased: pytest would collect `test_raises`
from vision_unlearning.metrics.klom import (KlomRelease, binned_kl, klom, klom_from_logits, margin_histograms,
                                               reference_binned_kl, release_klom)
from vision_unlearning.experiments.klom_fmnist import KlomSetting, klom_benchmark
from vision_unlearning.experiments.setting import ForgetSetSpec, MethodSpec
from vision_unlearning.models import CNNConfig, margins as logit_margins
from vision_unlearning.unlearning import RetrainConfig

def test_hand_computed_kl():
    u, o = np.array([[0.], [0], [0], [1]]), np.array([[0.], [1], [1], [1]])
    # grid [0, .5, 1]: p = (3/4, 1/4), q = (1/4, 3/4); KL = 3/4 ln 3 + 1/4 ln 1/3 = ln(3)/2
    assert binned_kl(u, o, bins=2)[0] == pytest.approx(0.5 * np.log(3), abs=1e-12)
    # the reference drops the value 1 (the maximum) from both samples: p = q = (1, 0)
    assert binned_kl(u, o, bins=2, right_edge='drop')[0] == pytest.approx(0.0, abs=1e-12)
    # the floor: q = (1, 0) where p = (1/2, 1/2)
    u, o = np.array([[0.], [0], [1], [1]]), np.array([[0.], [0], [0], [0.1]])
    assert binned_kl(u, o, bins=2)[0] == pytest.approx(stats.entropy([.5, .5], [1, 1e-5]), abs=1e-12)

def test_maximum_falls_in_last_bin():
    u, o = np.array([[-3.], [0.5], [7]]), np.array([[-1.], [7], [7]])
    _, cu, co = margin_histograms(u, o)
    assert cu[0, -1] == 1 and co[0, -1] == 2 and cu.sum() == 3 and co.sum() == 3
    _, cu, co = margin_histograms(u, o, right_edge='drop')
    assert cu[0, -1] == 0 and co.sum() == 1

def planted(n_models=12, n_points=200, seed=0):
    rng = np.random.default_rng(seed)
    u, o = rng.normal(0, 3, (n_models, n_points)), rng.normal(1, 2, (n_models, n_points))
    u[:, :30], o[:, :30] = np.round(u[:, :30]), np.round(o[:, :30])
    u[:2, 30:40] = 400; o[:, 40:45] = -400; u[:, 45:50] = o[:, 45:50] = 3.0; u[:, 50:55] = 9.0
    return u, o

@pytest.mark.parametrize('edge', ['drop', 'include'])
def test_matches_reference_loop(edge):
    u, o = planted()
    ref = np.array([reference_binned_kl(u[:, i], o[:, i], right_edge=edge) for i in range(u.shape[1])])
    ours = binned_kl(u, o, right_edge=edge)
    assert (np.isnan(ours) == np.isnan(ref)).all()
    np.testing.assert_allclose(np.nan_to_num(ours), np.nan_to_num(ref), atol=1e-12)
    assert np.isnan(ref).any() == (edge == 'drop')     # all unlearned samples at the maximum: the reference's 0/0

def test_direction_and_order_invariance():
    u, o = planted()
    fwd = binned_kl(u, o)
    np.testing.assert_allclose(binned_kl(u, o, direction='oracle||unlearned'), binned_kl(o, u), atol=1e-12)
    assert np.abs(fwd - binned_kl(o, u)).max() > 0.1
    rng = np.random.default_rng(3); pts = rng.permutation(u.shape[1])
    np.testing.assert_allclose(binned_kl(u[:, pts], o[:, pts]), fwd[pts], atol=1e-12)
    np.testing.assert_allclose(binned_kl(u[rng.permutation(len(u))], o[rng.permutation(len(o))]), fwd, atol=1e-12)

def test_identical_samples_give_zero():
    u, _ = planted()
    np.testing.assert_allclose(binned_kl(u, u.copy()), 0.0, atol=1e-12)
    np.testing.assert_allclose(binned_kl(np.full((5, 3), 2.0), np.full((5, 3), 2.0)), 0.0, atol=1e-12)

def test_typed_errors():
    u, o = planted()
    with pytest.raises(InsufficientSamplesError, match='1 model'): klom(u[:1], o)
    with pytest.raises(InsufficientSamplesError, match='1 model'): klom(u, o[:1])
    with pytest.raises(ConfigError, match='200 points but oracle margins 150'): klom(u, o[:, :150])
    with pytest.raises(ConfigError, match='2-D'): klom(u[None], o)
    z = torch.randn(4, 6, 3); y = torch.tensor([0, 1, 2, 0, 1, 2]); zn = z.clone(); zn[1, 4, 2] = float('nan')
    with pytest.raises(NonFiniteError, match='model 1, point 4, class 2'): klom_from_logits(zn, z, y)
    with pytest.raises(NonFiniteError, match='model 1, point 4'): klom(logit_margins(zn, y), logit_margins(z, y))
    with pytest.raises(ConfigError, match="'unlearned\\|\\|oracle'"): klom(u, o, direction='backward')

def test_release_reader_on_tiny_tree(tmp_path):
    root = tmp_path/'KLOM-models'; g = torch.Generator().manual_seed(0); y_tr, y_va = torch.zeros(10, dtype=torch.long), torch.zeros(4, dtype=torch.long)
    for folder, shift in ((root/'full_models'/'CIFAR10', 0.0), (root/'oracles'/'CIFAR10'/'forget_set_3', -8.0)):
        folder.mkdir(parents=True)
        for i in range(20):
            tr = torch.randn(10, 10, generator=g); tr[:3, 0] += shift
            torch.save(tr, folder/f'train_logits_{i:02d}.pt'); torch.save(torch.randn(4, 10, generator=g), folder/f'val_logits_{i:02d}.pt')
            torch.save({'module.fc.weight': torch.ones(1)}, folder/f'sd_{i:02d}____epoch_23.pt')
    (root/'forget_set_indices'/'CIFAR10').mkdir(parents=True); np.save(root/'forget_set_indices'/'CIFAR10'/'forget_set_3.npy', np.arange(3))
    res = release_klom(root, 3, train_labels=y_tr, val_labels=y_va)
    assert list(res.groups) == ['forget', 'retain', 'validation'] and res.values.shape == (14,)
    assert res.group('forget').min() > res.group('retain').max() + 2              # the shifted oracles are found (20 models: floor ~3)
    rel = KlomRelease(root)
    assert rel.forget_sets() == [3] and list(rel.state_dict(3, 19)) == ['fc.weight']
    with pytest.raises(DataNotFoundError, match=r'forget sets \[3\]'): release_klom(root, 1, train_labels=y_tr, val_labels=y_va)
    with pytest.raises(DataNotFoundError): KlomRelease(tmp_path)

def _models(store): return len(list(store.root.glob('model/*/*/meta.json')))   # models the zoo has stored

def test_pipeline_grows_n_reusing_stored_models(tmp_path):
    s = KlomSetting(name='t', n_train=240, n_val=60, model=CNNConfig(widths=(4,)),
                    recipe=RetrainConfig(epochs=2, lr=0.05, batch_size=64, milestones=()),
                    forget_sets=(ForgetSetSpec(name='nn_24', builder='nearest_neighbours', params=dict(k=24, anchor=6)),),
                    methods=(MethodSpec(label='Fine-tuning', method='finetune'),))
    store = ArtifactStore(tmp_path)
    r2 = klom_benchmark(s, n=2, store=store)
    computed = _models(store)
    assert computed == 2 + 4 * 2       # originals, then oracles, independent oracles, retrained and fine-tuned: 2 models each
    r3 = klom_benchmark(s, n=3, store=store)
    assert _models(store) - computed == 5                                   # one more model per role, nothing else
    for key, m in r2.margins.items(): torch.testing.assert_close(r3.margins[key][:2], m)
    t = r3.table('nn_24')
    assert list(t.index) == ['Original', 'Oracle (independent)', 'Retrained', 'Fine-tuning'] and np.isfinite(t.values).all()

def test_store_keys_hold_what_the_margins_depend_on(tmp_path, monkeypatch):
    "A stored model's key holds the points' content, the forget set's indices and a method's validated config, and nothing else."
    import vision_unlearning.experiments.klom_fmnist as kb
    nn = ForgetSetSpec(name='nn_24', builder='nearest_neighbours', params=dict(k=24, anchor=6))
    s = KlomSetting(name='t', n_train=240, n_val=60, model=CNNConfig(widths=(4,)),
                    recipe=RetrainConfig(epochs=1, lr=0.05, batch_size=64, milestones=()),
                    forget_sets=(nn,), methods=(MethodSpec(label='Fine-tuning', method='finetune'),))
    store = ArtifactStore(tmp_path)
    m = kb.role_margins(s, 'nn_24', 'Fine-tuning', 2, kb.klom_data(s), store)
    computed = _models(store); assert computed == 4                          # 2 originals, 2 fine-tuned
    # another forget set in the setting: the originals and nn_24's models are read, not trained again
    s2 = s.model_copy(update=dict(forget_sets=(ForgetSetSpec(name='random_12', builder='random', params=dict(size=12)), nn)))
    torch.testing.assert_close(kb.role_margins(s2, 'nn_24', 'Fine-tuning', 2, kb.klom_data(s2), store), m, rtol=0, atol=0)
    # the method's defaults spelled out, under another label: the same models
    s3 = s.model_copy(update=dict(methods=(MethodSpec(label='FT', method='finetune', params=dict(lr=1e-3, seed=42)),)))
    torch.testing.assert_close(kb.role_margins(s3, 'nn_24', 'FT', 2, kb.klom_data(s3), store), m, rtol=0, atol=0)
    assert _models(store) == computed
    # other validation points: no model trained, only logits
    s_val = s.model_copy(update=dict(n_val=30))
    kb.role_margins(s_val, 'nn_24', 'Fine-tuning', 2, kb.klom_data(s_val), store)
    assert _models(store) == computed
    # other images under the same setting (one pixel of every image changed): new models, not the stored ones
    load = kb.load_fashion_mnist
    def edited(split):
        d = load(split); d.x = d.x.clone(); d.x[:, 0, 0, 0] += 1; return d
    monkeypatch.setattr(kb, 'load_fashion_mnist', edited)
    kb.role_margins(s, 'nn_24', 'original', 2, kb.klom_data(s), store)
    assert _models(store) == computed + 2

def test_typo_in_a_method_fails_before_training(tmp_path):
    "A misspelt method or parameter fails when the setting is written, listing the choices; nothing is trained."
    raises_with(lambda: KlomSetting(methods=(MethodSpec(label='GA', method='neggradd'),)), UnknownNameError, "'neggradd'",
                "'neggrad'")
    raises_with(lambda: KlomSetting(methods=[dict(label='GA', method='neggradd')]), ConfigError, "'neggradd'")
    raises_with(lambda: MethodSpec(label='GA', method='neggrad', params={'lopo': 1}), ConfigError, 'lopo', 'allowed fields')
    raises_with(lambda: ForgetSetSpec(name='r', builder='randum'), UnknownNameError, "'randum'", "'random'")

def test_sanity_band_must_be_finite_and_nonnegative():
    "A negative, NaN or infinite band would make every row 'on the floor' or none: ConfigError names the value."
    from vision_unlearning.experiments.klom_fmnist import sanity
    for bad in (-0.1, float('nan'), float('inf')): raises_with(lambda: sanity(None, delta=bad), ConfigError, f'delta={bad}')
