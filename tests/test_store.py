"""Hostile tests of the artifact store: damaged metadata, replaced payloads, impure JSON, a reader racing a writer,
writers killed mid-write and an unusable `VU_CACHE`. Each test failed against the store before its hardening."""
import collections, enum, hashlib, json, os, random, shutil, signal, subprocess, sys, textwrap
from pathlib import Path

import numpy as np, pytest, torch

import vision_unlearning.core as core
from vision_unlearning.core import ArtifactCorruptError, ArtifactStore, Config, ConfigError

raises_with = core.test_raises   # `test_raises` under another name: pytest would collect a module-level test_*

class Cfg(Config):
    n: int = 0

CFG = Cfg()
PAYLOAD = {'w': torch.arange(6.).reshape(2, 3), 'b': torch.zeros(3, dtype=torch.int64)}
REPO = Path(__file__).resolve().parents[1]

def _same(a, b)->bool: return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

class Counter:
    "A compute function that returns `PAYLOAD` and counts its calls."
    def __init__(self): self.n = 0
    def __call__(self): self.n += 1; return {k: v.clone() for k, v in PAYLOAD.items()}

@pytest.fixture
def toy(tmp_path):
    "A store with one verified entry ('toy', CFG) and the entry's folder."
    store, compute = ArtifactStore(tmp_path), Counter()
    store.load_or_compute('toy', CFG, compute)
    return store, compute, store.folder('toy', store.key('toy', CFG))

def _reseal(meta:dict)->bytes:
    "`meta` as the store would write it: with a fresh metadata checksum when the store has one."
    seal = getattr(core, '_seal_meta', None)
    return json.dumps(seal(meta) if seal else meta, indent=1).encode()

def _meta(folder:Path)->dict: return json.loads((folder/'meta.json').read_text())

def _recovers(store, compute, folder, damage)->None:
    "After `damage(folder)`: strict reading raises `ArtifactCorruptError`; default reading recomputes and counts it."
    good = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    damage(folder)
    calls, corrupt = compute.n, store.stats['corrupt']
    assert _same(store.load_or_compute('toy', CFG, compute), PAYLOAD)
    assert compute.n == calls + 1, 'the damaged entry was accepted instead of recomputed'
    assert store.stats['corrupt'] == corrupt + 1
    assert _same(store.get('toy', CFG), PAYLOAD) and compute.n == calls + 1     # repaired: a hit now
    damage(folder)
    raises_with(lambda: store.get('toy', CFG, strict=True), ArtifactCorruptError, str(folder))
    raises_with(lambda: store.load_or_compute('toy', CFG, compute, strict=True), ArtifactCorruptError, str(folder))
    assert compute.n == calls + 1                                               # strict never recomputes
    for name, b in good.items():                                               # leave the entry as it was
        p = folder/name
        if p.is_dir(): shutil.rmtree(p)
        p.write_bytes(b)

def _write_meta(b:bytes):
    def damage(folder): (folder/'meta.json').write_bytes(b)
    return damage

def _edit_meta(**changes):
    "Damage: change fields of the metadata and reseal it, so only the field checks can catch it."
    def damage(folder): (folder/'meta.json').write_bytes(_reseal({**_meta(folder), **changes}))
    return damage

def _meta_dir(folder):
    p = folder/'meta.json'; p.unlink(missing_ok=True); p.mkdir(exist_ok=True); (p/'x').write_text('x')

def _unsealed_edit(folder):
    "The config field changed, checksum left as it was (a flip that still parses)."
    m = _meta(folder); m['config']['n'] = 99; (folder/'meta.json').write_text(json.dumps(m, indent=1))

def _no_checksum(folder):
    m = _meta(folder); m.pop('meta_sha256', None); m['seconds'] = -1.0
    (folder/'meta.json').write_text(json.dumps(m, indent=1))

def _truncated(folder): p = folder/'meta.json'; p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2])

META_DAMAGE = {
    'empty file': _write_meta(b''), 'list': _write_meta(b'[]'), 'null': _write_meta(b'null'),
    'empty object': _write_meta(b'{}'), 'string': _write_meta(b'"meta"'), 'number': _write_meta(b'42'),
    'not UTF-8': _write_meta(b'\xff\xfe{"file": "data.pt"}'), 'deeply nested': _write_meta(b'[' * 100_000),
    'truncated': _truncated, 'a directory': _meta_dir,
    'file is a list': _edit_meta(file=['data.pt']), 'file outside the folder': _edit_meta(file='../../../etc/hostname'),
    'file of the other format': _edit_meta(file='data.json'), 'size is a string': _edit_meta(size='12'),
    'size is a bool': _edit_meta(size=True), 'sha256 is a number': _edit_meta(sha256=0),
    'unknown format': _edit_meta(format='yaml'),
    'json format for a torch file': _edit_meta(format='json'), 'key of another entry': _edit_meta(key='0' * 20),
    'kind differs': _edit_meta(kind='other'), 'signature is a list': _edit_meta(signature=[]),
    'config changed, checksum not': _unsealed_edit, 'checksum missing': _no_checksum,
}

@pytest.mark.parametrize('case', list(META_DAMAGE))
def test_damaged_meta_is_corrupt(toy, case):
    "Every damaged meta.json is recomputed by default and raises ArtifactCorruptError when strict; never a raw error."
    _recovers(*toy, META_DAMAGE[case])

def _overwrite(p:Path, b:bytes):
    "Write `b` over `p` in place when it has that size (truncating first makes each write a flush on ext4)."
    if p.is_file() and p.stat().st_size == len(b):
        with open(p, 'r+b') as f: f.write(b)
    else: p.write_bytes(b)

def test_every_bit_flip_of_meta_detected(toy):
    "Exhaustive: each single-bit flip of a real meta.json is detected (recomputed), or harmless (same parsed metadata)."
    store, compute, folder = toy
    meta_p, good = folder/'meta.json', {p.name: p.read_bytes() for p in folder.iterdir()}
    raw, parsed = good['meta.json'], json.loads(good['meta.json'])
    detected, harmless, wrong, crashed = 0, 0, [], []
    for bit in range(8 * len(raw)):
        b = bytearray(raw); b[bit // 8] ^= 1 << (bit % 8); _overwrite(meta_p, b)
        corrupt = store.stats['corrupt']
        try: got = store.get('toy', CFG)
        except Exception as e: crashed.append((bit, type(e).__name__)); got = 'crashed'
        if got is None and store.stats['corrupt'] == corrupt + 1: detected += 1
        elif got != 'crashed':
            try: same = json.loads(bytes(b)) == parsed
            except ValueError: same = False
            if same and got is not None and _same(got, PAYLOAD): harmless += 1
            else: wrong.append(bit)
        for name, data in good.items(): _overwrite(folder/name, data)
    n = 8 * len(raw)
    print(f"{n} single-bit flips of a {len(raw)}-byte meta.json: {detected} detected, {harmless} harmless, "
          f"{len(wrong)} accepted with changed metadata, {len(crashed)} raw errors")
    assert not crashed, f"{len(crashed)} of {n} flips raised a raw error, e.g. {crashed[:3]}"
    assert not wrong, f"{len(wrong)} of {n} flips ({len(wrong) / n:.1%}) were accepted with changed metadata"
    assert detected + harmless == n

def test_bit_flips_strict_sample(toy):
    "A random sample of 400 flips: strict reading raises ArtifactCorruptError for every flip that changes the metadata."
    store, compute, folder = toy
    meta_p = folder/'meta.json'; raw = meta_p.read_bytes(); parsed = json.loads(raw)
    for bit in random.Random(0).sample(range(8 * len(raw)), 400):
        b = bytearray(raw); b[bit // 8] ^= 1 << (bit % 8); _overwrite(meta_p, b)
        try: same = json.loads(bytes(b)) == parsed
        except ValueError: same = False
        if same: assert _same(store.get('toy', CFG, strict=True), PAYLOAD)
        else: raises_with(lambda: store.get('toy', CFG, strict=True), ArtifactCorruptError, 'meta.json')
    meta_p.write_bytes(raw); assert compute.n == 1

def _replace_payload(obj):
    "Damage: a different valid torch file in place of data.pt, its size and sha256 updated and the metadata resealed."
    def damage(folder):
        p = folder/'data.pt'; torch.save(obj, p); b = p.read_bytes()
        sidecar = {**_meta(folder), 'size': len(b), 'sha256': hashlib.sha256(b).hexdigest()}
        (folder/'meta.json').write_bytes(_reseal(sidecar))
    return damage

REPLACED = {
    'other keys': {'x': torch.zeros(3)}, 'other shape': {'w': torch.zeros(3, 3), 'b': PAYLOAD['b']},
    'other dtype': {'w': PAYLOAD['w'].double(), 'b': PAYLOAD['b']}, 'a list': [PAYLOAD['w'], PAYLOAD['b']],
    'a tensor': PAYLOAD['w'], 'an unsafe pickle': {'w': np.arange(3), 'b': PAYLOAD['b']},
}

@pytest.mark.parametrize('case', list(REPLACED))
def test_replaced_payload_is_corrupt(toy, case):
    "A valid torch file of another structure, with a consistent sidecar, is corrupt: recomputed, or raised when strict."
    _recovers(*toy, _replace_payload(REPLACED[case]))

def test_payload_directory_is_corrupt(toy):
    "data.pt replaced by a directory: recomputed (the writer clears it), raised when strict."
    def damage(folder): p = folder/'data.pt'; p.unlink(); p.mkdir(); (p/'x').write_text('x')
    _recovers(*toy, damage)

@pytest.mark.parametrize('payload,where', [
    ({'w': torch.ones(2)}, "['w']"), ({'a': [1, {'b': np.ones(2)}]}, "['a'][1]['b']"), ({'t': (1, 2)}, "['t']"),
    ({1: 'one'}, "key 1"), ([1, 2, {3}], "[2]"), ({'f': object()}, "['f']"), (torch.ones(2), 'the payload')])
def test_json_payload_must_be_pure(tmp_path, payload, where):
    "fmt='json' accepts only what JSON gives back unchanged; anything else raises ConfigError naming where it sits."
    store = ArtifactStore(tmp_path)
    raises_with(lambda: store.load_or_compute('res', CFG, lambda: payload, fmt='json'), ConfigError, where,
                "fmt='json'")
    assert store.get('res', CFG) is None

def test_json_payload_round_trips(tmp_path):
    "Pure JSON, NaN and numpy scalars (stored as the Python number they equal) come back equal."
    store = ArtifactStore(tmp_path)
    out = {'a': [1, 2.5, None, True, 'x', {'b': []}], 'n': np.int64(3), 'f': np.float32(0.5)}
    store.load_or_compute('res', CFG, lambda: out, fmt='json')
    assert store.get('res', CFG) == {'a': [1, 2.5, None, True, 'x', {'b': []}], 'n': 3, 'f': 0.5}

def test_unknown_format_checked_before_compute(tmp_path):
    "fmt='yaml' raises ConfigError naming the allowed formats, before anything is computed."
    compute = Counter()
    store = ArtifactStore(tmp_path)
    raises_with(lambda: store.load_or_compute('res', CFG, compute, fmt='yaml'), ConfigError, "'yaml'", 'json')
    assert compute.n == 0

@pytest.mark.parametrize('fmt', ['torch', 'json'])
def test_none_is_not_a_product(tmp_path, fmt):
    "compute returning None raises ConfigError naming the kind (None means 'absent' to `get`)."
    store = ArtifactStore(tmp_path)
    raises_with(lambda: store.load_or_compute('scores', CFG, lambda: None, fmt=fmt), ConfigError, "'scores'", 'None')

def test_torch_payload_must_load_back(tmp_path):
    "A torch payload that `torch.load(weights_only=True)` cannot read back (a numpy array) raises ConfigError at once."
    store = ArtifactStore(tmp_path)
    raises_with(lambda: store.load_or_compute('res', CFG, lambda: {'a': np.ones(2)}), ConfigError, "['a']", 'ndarray')

def test_reader_never_deletes_a_fresh_entry(toy, monkeypatch):
    "A reader with stale metadata while a writer replaces the entry re-checks under the lock and keeps the new entry."
    store, compute, folder = toy
    new = {'w': torch.full((2, 3), 7.), 'b': torch.ones(3, dtype=torch.int64)}
    real_loads, fired = json.loads, []
    def loads(s, *args, **kwargs):          # the reader has just parsed the old meta.json ...
        out = real_loads(s, *args, **kwargs)
        if not fired and isinstance(out, dict) and 'sha256' in out:
            fired.append(1)                  # ... when another writer replaces the entry
            ArtifactStore(store.root).load_or_compute('toy', CFG, lambda: new, recompute_if_exists=True)
        return out
    monkeypatch.setattr(core.json, 'loads', loads)
    got = store.get('toy', CFG)
    monkeypatch.undo()
    assert fired and (folder/'meta.json').exists(), 'the reader deleted the entry the writer had just finished'
    assert _same(ArtifactStore(store.root).get('toy', CFG), new)
    assert got is not None and _same(got, new) and store.stats['corrupt'] == 0

KILLED = textwrap.dedent('''
    import os, signal, sys, torch
    import vision_unlearning.core as core
    def fsync(fd): os.kill(os.getpid(), signal.SIGKILL)   # die after the payload is written, before it is renamed
    core.os.fsync = fsync
    core.ArtifactStore(sys.argv[1]).load_or_compute('big', core.Config(), lambda: {'x': torch.zeros(1 << 18)})
''')

def test_killed_writer_tmp_is_removed(tmp_path):
    "A writer killed by SIGKILL mid-write leaves a .tmp file; the next write of that key removes it."
    env = {**os.environ, 'PYTHONPATH': f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run([sys.executable, '-c', KILLED, str(tmp_path)], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    store = ArtifactStore(tmp_path); folder = store.folder('big', store.key('big', Config()))
    stale = list(folder.glob('.*.tmp'))
    assert stale and stale[0].stat().st_size > 1 << 20, 'the killed writer should have left its temporary file'
    assert store.get('big', Config()) is None
    assert store.load_or_compute('big', Config(), lambda: {'x': torch.ones(3)})['x'].sum() == 3
    assert not list(folder.glob('.*.tmp')), f"stale temporary files left: {list(folder.glob('.*.tmp'))}"

def test_planted_tmp_removed_only_in_its_entry(toy):
    "A writer cleans the temporary files of its own entry's folder (it holds that lock), not those of other keys."
    store, compute, folder = toy
    mine = folder/'.data.pt.abc123.tmp'; mine.write_bytes(b'\0' * 1000)
    other = store.folder('toy', store.key('toy', Cfg(n=1))); other.mkdir(parents=True)
    theirs = other/'.data.pt.def456.tmp'; theirs.write_bytes(b'\0' * 10)
    store.get('toy', CFG)
    assert mine.exists()                                   # a reader does not clean
    store.load_or_compute('toy', CFG, compute, recompute_if_exists=True)
    assert not mine.exists() and theirs.exists()

def _unusable(kind:str, tmp_path:Path, monkeypatch)->Path:
    f = tmp_path/'a_file'; f.write_text('x')
    if kind == 'unwritable (patched)':
        d = tmp_path/'ro'; d.mkdir()
        real = core.tempfile.mkstemp
        def mkstemp(*args, dir=None, **kwargs):
            if dir is not None and Path(dir) == d: raise PermissionError(13, 'Permission denied', str(d))
            return real(*args, dir=dir, **kwargs)
        monkeypatch.setattr(core.tempfile, 'mkstemp', mkstemp)
        return d
    return {'a file': f, 'under a file': f/'cache', 'under /proc': Path('/proc/x'), '/proc itself': Path('/proc')}[kind]

@pytest.mark.parametrize('kind', ['a file', 'under a file', 'under /proc', '/proc itself', 'unwritable (patched)'])
def test_unusable_vu_cache(tmp_path, monkeypatch, kind):
    "VU_CACHE a file, under a file, or not writable: ConfigError naming VU_CACHE, its value and the fix."
    value = _unusable(kind, tmp_path, monkeypatch)
    monkeypatch.setenv('VU_CACHE', str(value))
    monkeypatch.setattr(core, '_default_store', None)
    raises_with(lambda: core.get_store().load_or_compute('toy', CFG, Counter()), ConfigError,
                f'VU_CACHE={str(value)!r}', 'writable folder', 'unset VU_CACHE')

def test_unusable_root(tmp_path):
    "An explicit store root that is a file: ConfigError naming the root."
    f = tmp_path/'a_file'; f.write_text('x')
    raises_with(lambda: ArtifactStore(f).load_or_compute('toy', CFG, Counter()), ConfigError, str(f), 'writable folder')

def test_hit_hashes_the_payload_once(tmp_path, monkeypatch):
    "The hot path: a hit hashes the payload once, as before the hardening (plus a few hundred bytes of metadata)."
    store = ArtifactStore(tmp_path); big = {'x': torch.zeros(1 << 18)}
    store.load_or_compute('big', CFG, lambda: big)
    size = (store.folder('big', store.key('big', CFG))/'data.pt').stat().st_size
    hashed, real = [0], hashlib.sha256
    class Counting:
        def __init__(self, b=b''): self.h = real(); self.update(b)
        def update(self, b): hashed[0] += len(b); self.h.update(b)
        def hexdigest(self): return self.h.hexdigest()
    monkeypatch.setattr(core.hashlib, 'sha256', Counting)
    assert store.get('big', CFG)['x'].shape == (1 << 18,)
    monkeypatch.undo()
    assert size <= hashed[0] <= size + 8192, (size, hashed[0])

@pytest.mark.parametrize('kind', ['../elsewhere', 'a/b', '..', ''])
def test_kind_names_one_folder(tmp_path, kind):
    "A kind that is not one folder name (it would write outside the store, or into another kind) raises ConfigError."
    raises_with(lambda: ArtifactStore(tmp_path/'store').load_or_compute(kind, CFG, Counter()), ConfigError,
                f"kind={kind!r}", 'must name one folder')
    assert not (tmp_path/'elsewhere').exists()

class Colour(enum.IntEnum): RED = 1

ROUND_TRIPS = {
    'torch': [collections.OrderedDict(a=torch.ones(2)), collections.Counter('aab'), (1, 2.5, 'x', None, b'b', 1j),
              {1: torch.ones(1), 'k': {2, 3}}, [torch.zeros(i) for i in range(12)], torch.Size([2, 3]),
              {'d': torch.float16, 'dev': torch.device('cpu'), 'p': torch.nn.Parameter(torch.ones(2))},
              torch.arange(5), 0, '', [], {}],
    'json': [{'a': [1, 2.5, None, True, 'x']}, {'e': Colour.RED, 's': np.str_('x'), 'f': np.float32(0.25)},
             [list(range(20))], {'nan': float('nan')}, 0, False, '', [], {}],
}

@pytest.mark.parametrize('fmt,i', [(f, i) for f, ps in ROUND_TRIPS.items() for i in range(len(ps))])
def test_stored_payload_reads_back_as_a_hit(tmp_path, fmt, i):
    "Every accepted payload reads back with the signature it was stored with: stored once, then a hit, never corrupt."
    store, calls = ArtifactStore(tmp_path), []
    def compute(): calls.append(1); return ROUND_TRIPS[fmt][i]
    first = store.load_or_compute('rt', CFG, compute, fmt=fmt)
    again = store.load_or_compute('rt', CFG, compute, fmt=fmt, strict=True)
    assert len(calls) == 1 and store.stats['corrupt'] == 0 and store.stats['hits'] == 1
    assert repr(again) == repr(first) or (isinstance(first, torch.Tensor) and torch.equal(first, again))
