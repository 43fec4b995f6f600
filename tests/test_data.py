"""Integration tests of `vision_unlearning.data` on the real offline data: the full font-identity dataset through a
temporary artifact store, identity splits on it, and the Fashion-MNIST download fallback with torchvision's
downloader replaced (nothing is downloaded)."""
import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from vision_unlearning.core import ArtifactStore, DataNotFoundError, InsufficientSamplesError
from vision_unlearning.data import (FASHION_MNIST_CLASSES, NO_JITTER, CorruptDataError, font_metadata,
                                    load_fashion_mnist, load_font_identities, render_glyphs)
from vision_unlearning.splits import make_split


@pytest.fixture(scope='module')
def store(tmp_path_factory): return ArtifactStore(tmp_path_factory.mktemp('store'))


@pytest.fixture(scope='module')
def fonts(store): return load_font_identities(store=store)


def test_full_identity_dataset(fonts, store):
    meta = font_metadata()
    n, per_font = len(meta), 36 * 4
    assert n >= 100
    assert fonts.x.shape == (n * per_font, 1, 32, 32) and fonts.x.dtype == torch.uint8
    assert fonts.identity.unique().tolist() == meta.index.tolist()
    assert torch.bincount(fonts.identity).eq(per_font).all() and torch.bincount(fonts.y).eq(n * 4).all()
    assert (fonts.x.flatten(1).float().std(1) > 10).all(), "some glyph images are blank"
    assert fonts.attributes.equals(meta)
    hits = store.stats['hits']
    again = load_font_identities(store=store)
    assert store.stats['hits'] == hits + 1 and store.stats['computed'] == 1
    assert torch.equal(again.x, fonts.x) and torch.equal(again.identity, fonts.identity)


def test_identities_are_distinct():
    "No two identities render identical clean glyphs (the same face in two formats or packages was deduplicated)."
    meta = font_metadata()
    clean = torch.stack([render_glyphs(r.file, size=16, jitter=NO_JITTER, face_index=r.face_index).flatten().float()
                         for _, r in meta.iterrows()])
    d = torch.cdist(clean, clean) + torch.eye(len(clean)) * 1e9
    assert d.min() > 0


def test_mufac_identity_split(fonts):
    split = make_split(fonts, 'identity', test=0.1, forget=10, unseen=10, seed=3)
    g = split.identities(fonts)
    n_ids = len(fonts.identity.unique())
    assert len(g['test']) == round(0.1 * n_ids) and len(g['forget']) == 10 and len(g['unseen']) == 10
    for a, b in [('retain', 'forget'), ('train', 'unseen'), ('train', 'test'), ('unseen', 'test'), ('forget', 'test')]:
        assert not set(g[a]) & set(g[b]), (a, b)
    assert sum(split.sizes[k] for k in ('train', 'unseen', 'test')) == len(fonts)
    with pytest.raises(InsufficientSamplesError, match='in the training pool'):
        make_split(fonts, 'identity', forget=n_ids, unseen=1)


def _idx(a): return bytes([0, 0, 8, a.ndim]) + np.array(a.shape, '>u4').tobytes() + a.astype(np.uint8).tobytes()


class _FakeFashionMNIST:
    "Writes tiny IDX files where torchvision's FashionMNIST(download=True) would put the real ones."
    calls = []
    def __init__(self, root, train=True, download=False):
        self.calls.append((root, train, download))
        raw = Path(root) / 'FashionMNIST' / 'raw'; raw.mkdir(parents=True, exist_ok=True)
        pre = 'train' if train else 't10k'
        (raw / f'{pre}-images-idx3-ubyte.gz').write_bytes(gzip.compress(_idx(np.full((3, 28, 28), 9))))
        (raw / f'{pre}-labels-idx1-ubyte.gz').write_bytes(gzip.compress(_idx(np.array([1, 2, 3]))))


def test_download_fallback(tmp_path, monkeypatch):
    import torchvision
    monkeypatch.setattr(torchvision.datasets, 'FashionMNIST', _FakeFashionMNIST)
    with pytest.raises(DataNotFoundError, match='apt-get install dataset-fashion-mnist'):
        load_fashion_mnist('train', root=tmp_path)
    assert _FakeFashionMNIST.calls == []
    data = load_fashion_mnist('train', root=tmp_path, download=True)
    assert [c[2] for c in _FakeFashionMNIST.calls] == [True, True]
    assert data.x.shape == (3, 1, 28, 28) and data.y.tolist() == [1, 2, 3] and int(data.x.max()) == 9
    assert len(load_fashion_mnist('test', root=tmp_path)) == 3


def test_download_failure_is_typed(tmp_path, monkeypatch):
    import torchvision
    def _offline(*a, **k): raise RuntimeError('Error downloading train-images-idx3-ubyte.gz: network unreachable')
    monkeypatch.setattr(torchvision.datasets, 'FashionMNIST', _offline)
    with pytest.raises(DataNotFoundError, match='network unreachable.*apt-get install dataset-fashion-mnist'):
        load_fashion_mnist('test', root=tmp_path, download=True)


def test_corrupt_package_file(tmp_path):
    (tmp_path / 't10k-images-idx3-ubyte.gz').write_bytes(gzip.compress(_idx(np.zeros((4, 28, 28)))[:-100]))
    (tmp_path / 't10k-labels-idx1-ubyte.gz').write_bytes(gzip.compress(_idx(np.zeros(4))))
    with pytest.raises(CorruptDataError, match='data bytes'):
        load_fashion_mnist('test', root=tmp_path)


def test_real_fashion_mnist():
    train, test = load_fashion_mnist('train'), load_fashion_mnist('test')
    assert (len(train), len(test)) == (60000, 10000) and train.classes == FASHION_MNIST_CLASSES
    assert torch.bincount(test.y).eq(1000).all()
