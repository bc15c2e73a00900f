"""The package's import graph (issue 30): no module imports one that imports it back, at any depth (module-level and
function-level `import` statements alike), and every name the README and the notebooks import from fer_fastai is there.
Compatibility aliases of names that moved (a module's `__getattr__` that looks the new home up by name when first asked)
are not import statements and are not part of this graph."""
import ast, json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).parents[1]
PKG = ROOT/'fer_fastai'

def _imports(f:Path) -> set:
    "The fer_fastai modules that `f` imports anywhere in its code"
    mod, out = f.stem, set()
    for node in ast.walk(ast.parse(f.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1: out.add(node.module.split('.')[0] if node.module else None)
            elif node.module and node.module.startswith('fer_fastai.'): out.add(node.module.split('.')[1])
            elif node.module == 'fer_fastai': out |= {a.name for a in node.names}
            if node.level == 1 and not node.module: out |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name.split('.')[1] for a in node.names if a.name.startswith('fer_fastai.')}
    mods = {p.stem for p in PKG.glob('*.py')}
    return {m for m in out if m in mods and m != mod}

def graph() -> dict:
    return {f.stem: _imports(f) for f in PKG.glob('*.py') if f.stem != '_modidx'}

def cycles(g:dict) -> list:
    "Every module that reaches itself, with the path"
    found = []
    for start in sorted(g):
        stack = [(start, [start])]; seen = set()
        while stack:
            m, path = stack.pop()
            for n in sorted(g.get(m, ())):
                if n == start: found.append(path + [n]); break
                if n not in seen: seen.add(n); stack.append((n, path + [n]))
    return found

def test_the_walker_finds_a_circle():
    assert cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}})[0] == ['a', 'b', 'c', 'a']
    assert cycles({'a': {'b'}, 'b': set()}) == []

def test_no_import_circle():
    c = cycles(graph())
    assert not c, '\n'.join(' -> '.join(p) for p in c)

def test_modules_stay_small():
    "No module over 350 lines (the generated doc index _modidx.py aside)"
    big = {f.name: n for f in PKG.glob('*.py') if f.stem != '_modidx' and (n := len(f.read_text().splitlines())) > 350}
    assert not big, big

def _documented_imports() -> list:
    "Every `from fer_fastai.X import a, b` and `import fer_fastai.X` in the README and the notebooks"
    texts = [(ROOT/'README.md').read_text()]
    for nb in sorted((ROOT/'nbs').glob('*.ipynb')):
        texts += [''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']
    found = set()
    for t in texts:
        for m, names in re.findall(r'^\s*from (fer_fastai(?:\.\w+)?) import ([^\n#(;]+)', t, re.M):
            found |= {(m, n.strip().split(' as ')[0]) for n in names.split(',') if n.strip() and n.strip() != '*'}
        found |= {(m, None) for m in re.findall(r'^\s*import (fer_fastai(?:\.\w+)?)', t, re.M)}
    return sorted(found, key=str)

def test_every_documented_import_works():
    import importlib
    missing = []
    for m, name in _documented_imports():
        try:
            mod = importlib.import_module(m)
            if name is not None and not hasattr(mod, name): importlib.import_module(f'{m}.{name}')
        except Exception as e: missing.append(f'from {m} import {name}: {type(e).__name__}: {e}')
    assert len(_documented_imports()) > 100 and not missing, missing
