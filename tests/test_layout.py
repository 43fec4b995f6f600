"""The package's import graph has no cycle: every module of `vision_unlearning`, found on disk, with the imports it makes
at module level and inside functions (relative imports resolved)."""
import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module_name(path:Path, root:Path)->str:
    "Dotted name of the module in file `path` of the package rooted at folder `root` (`pkg/a/__init__.py` -> `pkg.a`)."
    parts = list(path.relative_to(root.parent).with_suffix('').parts)
    if parts[-1] == '__init__': parts = parts[:-1]
    return '.'.join(parts)


def _targets(node:ast.AST, module:str, is_pkg:bool)->list[str]:
    "Absolute names imported by node `node` of `module`: a module, or a name in one (`from m import f` -> `m.f`)."
    if isinstance(node, ast.Import): return [a.name for a in node.names]
    if node.level == 0: base = node.module or ''
    else:
        pkg = module.split('.') if is_pkg else module.split('.')[:-1]
        pkg = pkg[:len(pkg) - (node.level - 1)]
        base = '.'.join(pkg + ([node.module] if node.module else []))
    return [f'{base}.{a.name}' if a.name != '*' else base for a in node.names]


def import_graph(root:Path)->nx.DiGraph:
    "Directed graph module -> module it imports, over the package in folder `root` (module and function level)."
    files = {_module_name(p, root): p for p in sorted(root.rglob('*.py'))}
    g = nx.DiGraph(); g.add_nodes_from(files)
    for mod, path in files.items():
        tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)): continue
            for t in _targets(node, mod, path.name == '__init__.py'):
                # the longest prefix that is a module of the package (`from .a import f` -> `pkg.a`)
                while t and t not in files: t = t.rpartition('.')[0]
                if t and t != mod: g.add_edge(mod, t)
    return g


def cycles(g:nx.DiGraph)->list[list[str]]:
    "Every elementary cycle of `g`, each rotated to start at its smallest name, sorted."
    out = []
    for c in nx.simple_cycles(g):
        i = c.index(min(c)); out.append(c[i:] + c[:i])
    return sorted(out)


def _describe(cs:list[list[str]])->str:
    return '\n'.join(' -> '.join(c + [c[0]]) for c in cs[:50]) + (f'\n... {len(cs) - 50} more' if len(cs) > 50 else '')


def test_package_has_no_import_cycle():
    g = import_graph(ROOT/'vision_unlearning')
    assert len(g) > 10, f"only {len(g)} modules found: discovery is broken"
    assert ('vision_unlearning.benchmarks.I_care.metrics', 'vision_unlearning.core') in g.edges
    cs = cycles(g)
    assert not cs, f"{len(cs)} import cycle(s) in vision_unlearning:\n{_describe(cs)}"


def _write(root:Path, files:dict):
    for rel, text in files.items():
        (root/rel).parent.mkdir(parents=True, exist_ok=True); (root/rel).write_text(text)


def test_planted_cycle_is_found(tmp_path):
    "A cycle closed by an import inside a function, through a relative import of a subpackage, is found."
    pkg = tmp_path/'fakepkg'
    _write(pkg, {'__init__.py': 'from .a import *\n',
                 'a.py': 'from .sub.b import g\nimport os\n',
                 'sub/__init__.py': '',
                 'sub/b.py': 'from .. import c\n',
                 'c.py': 'def f():\n    from fakepkg.a import g\n    return g\n',
                 'd.py': 'import fakepkg.c\n'})
    g = import_graph(pkg)
    assert set(g) == {'fakepkg', 'fakepkg.a', 'fakepkg.sub', 'fakepkg.sub.b', 'fakepkg.c', 'fakepkg.d'}
    assert cycles(g) == [['fakepkg.a', 'fakepkg.sub.b', 'fakepkg.c']]
    with pytest.raises(AssertionError, match='fakepkg.a -> fakepkg.sub.b -> fakepkg.c -> fakepkg.a'):
        cs = cycles(g); assert not cs, _describe(cs)


def test_acyclic_fake_package_passes(tmp_path):
    pkg = tmp_path/'okpkg'
    _write(pkg, {'__init__.py': 'from .top import *\n', 'low.py': 'X = 1\n',
                 'top.py': 'from .low import X\ndef f():\n    from okpkg import low\n'})
    g = import_graph(pkg)
    assert ('okpkg.top', 'okpkg.low') in g.edges and cycles(g) == []
