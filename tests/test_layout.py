"""The package's layout: its import graph (module-level and function-level imports) has no cycle, and every module's
exported code stays readable in size. The graph is built from the source with `ast`, so a cycle closed by an import
inside a function is found too."""
import ast
from pathlib import Path
import networkx as nx
import pytest

PKG = Path(__file__).resolve().parents[1]/'vision_unlearning'

def _module(path:Path, root:Path)->str:
    parts = list(path.relative_to(root.parent).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)

def import_graph(root:Path)->nx.DiGraph:
    "Directed graph module → package module it imports (anywhere in the file), for the package in folder `root`."
    files = {_module(p, root): p for p in root.rglob('*.py') if p.name != '_modidx.py'}
    g = nx.DiGraph(); g.add_nodes_from(files)
    for mod, path in files.items():
        pkg = mod if path.name == '__init__.py' else mod.rpartition('.')[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import): targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ''
                if node.level:
                    up = pkg.split('.')[:len(pkg.split('.')) - node.level + 1]
                    base = '.'.join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else: continue
            for t in targets:
                while t and t not in files: t = t.rpartition('.')[0]   # `from pkg import name`: the module it names
                if t and t != mod: g.add_edge(mod, t)
    return g

def cycles(root:Path)->list[list[str]]:
    "Every elementary import cycle of the package in `root` (each as a list of modules)."
    return sorted(sorted(c) for c in nx.simple_cycles(import_graph(root)))

ICARE = 'vision_unlearning.benchmarks.I_care'

def test_no_import_cycle_outside_icare():
    "The experiment layer, the metrics, the zoo and the foundation import each other in one direction only."
    found = [c for c in cycles(PKG) if not any(m.startswith(ICARE) for m in c)]
    assert not found, f"{len(found)} import cycle(s), e.g. {found[:3]}"

@pytest.mark.xfail(strict=True, reason="issue 13, part 4: the I-CARE modules still close cycles with function-level "
                   "imports (configuration↔metadata, metadata→utils/metrics); remove this mark when they are layered")
def test_no_import_cycle_in_icare():
    found = [c for c in cycles(PKG) if any(m.startswith(ICARE) for m in c)]
    assert not found, f"{len(found)} import cycle(s) in I-CARE, e.g. {found[:2]}"

def test_a_planted_cycle_is_found(tmp_path):
    "The check itself: a cycle closed by an import inside a function, and a relative one, are both found."
    pkg = tmp_path/'pkg'; (pkg/'sub').mkdir(parents=True)
    for f in ('__init__.py', 'sub/__init__.py'): (pkg/f).write_text('')
    (pkg/'a.py').write_text('from .sub import b\n')
    (pkg/'sub'/'b.py').write_text('def f():\n    from ..a import g\n')
    (pkg/'c.py').write_text('import pkg.a\n')
    assert cycles(pkg) == [['pkg.a', 'pkg.sub.b']]
    (pkg/'sub'/'b.py').write_text('x = 1\n')
    assert cycles(pkg) == []

LIMIT = 520   # lines of a generated module (its exported cells, the header and nbdev's markers): about 500 of code

TOO_LARGE = {'result_templates'}   # issue 13, part 4: split along the I-CARE layering (strict: passes → remove it)

def _sized(p:Path):
    mark = pytest.mark.xfail(strict=True, reason='known: split pending') if p.stem in TOO_LARGE else ()
    return pytest.param(p, marks=mark, id=str(p.relative_to(PKG)))

@pytest.mark.parametrize('path', [_sized(p) for p in sorted(PKG.rglob('*.py')) if p.name != '_modidx.py'])
def test_module_size(path):
    n = len(path.read_text().splitlines())
    assert n <= LIMIT, f"{path.relative_to(PKG.parent)} has {n} lines (limit {LIMIT}): split its notebook"
