"The notebooks as committed: no FER2013 faces in kept outputs"
import json
from pathlib import Path

NBS = sorted((Path(__file__).parents[1]/'nbs').glob('*.ipynb'))

def _cells(nb):
    return [c for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']

def _src(c): return ''.join(c['source'])

def _flagged(c, *flags):
    "Whether cell `c` carries one of the nbdev directives `flags` (e.g. 'fer_faces', 'eval: false')"
    ds = [l.strip()[2:].strip() for l in _src(c).splitlines() if l.strip().startswith('#|')]
    return any(d == f or d.startswith(f + ' ') for d in ds for f in flags)

def test_notebooks_found():
    assert len(NBS) >= 10, NBS

def test_no_fer_faces_in_outputs():
    "Cells that draw FER2013's faces (flag fer_faces) keep no output: the dataset is not redistributed"
    flagged = [(nb.name, _src(c)[:80]) for nb in NBS for c in _cells(nb) if _flagged(c, 'fer_faces') and c.get('outputs')]
    assert not flagged, f'outputs kept in fer_faces cells: {flagged}; clear them (nbdev-test without --flags fer_faces)'

def test_fer_faces_cells_exist():
    "The guard above has cells to guard (the CAM grid and the top losses on FER2013)"
    n = sum(_flagged(c, 'fer_faces') for nb in NBS for c in _cells(nb))
    assert n >= 2, n

def test_colab_badge_and_install():
    "Every notebook opens in Colab from a badge that points at itself; every library notebook has a Colab install cell nbdev-test skips"
    for nb in NBS:
        cells = json.loads(nb.read_text())['cells']
        md = ''.join(''.join(c['source']) for c in cells if c['cell_type'] == 'markdown')
        assert f'colab.research.google.com/github/fer-fastai/fer_fastai/blob/main/nbs/{nb.name})' in md, f'{nb.name} has no Colab badge to itself'
        if nb.name == 'index.ipynb': continue
        installs = [c for c in _cells(nb) if any(l.lstrip().startswith(('!pip install', '%pip install')) for l in _src(c).splitlines())]
        assert installs and all(_flagged(c, 'eval: false') for c in installs), f'{nb.name}: the Colab install cell must exist and be #| eval: false'

import tomllib
# directives of the cells nbdev-test does not run here: `eval: false` and the project's tst_flags
SKIPPED = ('eval: false', *tomllib.loads((NBS[0].parents[1]/'pyproject.toml').read_text())['tool']['nbdev']['tst_flags'].split())

def _path_literals(src):
    "String constants in a cell's Python (shell and magic lines dropped) that name a path outside the repository"
    import ast
    code = '\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('!', '%')))
    return [n.value for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and len(n.value) > 1 and not n.value.startswith(COLAB_ONLY)
            and (n.value.startswith(('/', '~')) or (n.value.startswith('..') and not _in_repo(n.value)))]

COLAB_ONLY = ('/content/',)   # Colab's own folders (its Drive mount), which fer2013_source uses only in Colab

def _in_repo(p):
    "Whether `p`, relative to nbs/, stays inside the repository's folder (as `../runs/`, `bin/main`'s output, does)"
    root = NBS[0].parents[1].resolve()
    return (NBS[0].parent/p).resolve().is_relative_to(root)

def test_path_literals_checked():
    "The check below sees what it should: absolute paths, home paths and paths out of the repository"
    assert _path_literals("open('/tmp/x.csv'); Path('~/fer'); f('../../shared/fer.csv'); g('../README.md', '../runs/m.pkl', 'a/b.png', '/', '/content/drive')") == ['/tmp/x.csv', '~/fer', '../../shared/fer.csv']

def test_no_paths_outside_the_repo():
    "Cells that nbdev-test runs name no file outside the repository: data come from $FER2013_CSV, synth_fer or their own cells"
    bad = [(nb.name, p) for nb in NBS for c in _cells(nb) if not _flagged(c, *SKIPPED) for p in _path_literals(_src(c))]
    assert not bad, f'paths outside the repository in notebook cells CI runs: {bad}'

def test_tutorial_outputs_from_a_full_run():
    "10_tutorial_fer2013 keeps the outputs of its full run on all of FER2013 (FER_FULL=1 or a GPU), not those of CI's small version"
    import re
    nb = next(nb for nb in NBS if nb.name == '10_tutorial_fer2013.ipynb')
    text = ''.join(''.join(o.get('text', '')) for c in _cells(nb) for o in c.get('outputs', []))
    m = re.search(r'on (\d+) faces at (\d+) px: frozen ([\d.]+)%, unfrozen ([\d.]+)%', text)
    assert m, 'no results line kept: refresh with FER_FULL=1 nbdev-test --save --cell-timeout 0 --file-re ^10_ (DEVELOPERS.md)'
    assert int(m[1]) > 25_000 and float(m[4]) > 50, m[0]

def test_kept_text_outputs_are_tidy():
    "Kept text outputs read as a terminal shows them: no carriage-return progress bars (bin/tidy_outputs.py after nbdev-test --save)"
    import sys
    sys.path.insert(0, str(NBS[0].parents[1]/'bin'))
    from tidy_outputs import tidy
    assert tidy('█epoch  loss\n█Epoch 1/2 : |--| 0.00% [0/9 00:00<?]\rEpoch 1/2 : |█-| 50.00% [4/9 00:01<00:01]\r0  1.6\n |██| 100.00% [9/9 00:02<00:00]\r  \rdone\n') == 'epoch  loss\n0  1.6\ndone\n'
    untidy = [(nb.name, _src(c)[:60]) for nb in NBS for c in _cells(nb) for o in c.get('outputs', [])
              if o.get('output_type') == 'stream' and tidy(''.join(o['text'])) != ''.join(o['text'])]
    assert not untidy, f'progress bars kept in {untidy}: run python3 bin/tidy_outputs.py'

def _imports(src:str) -> set:
    "Top-level names of the modules a piece of Python imports, anywhere in it (lazy imports inside functions too)"
    import ast
    code = '\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('!', '%')))
    names = set()
    for n in ast.walk(ast.parse(code)):
        if isinstance(n, ast.Import): names |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom) and n.module and not n.level: names.add(n.module)
    return names

def _notebook_needs(nb) -> set:
    "Top-level modules a notebook's cells import, with those its fer_fastai modules import, recursively"
    root, seen, todo = NBS[0].parents[1], set(), set()
    for c in _cells(nb): todo |= _imports(_src(c))
    while todo:
        m = todo.pop()
        if m in seen: continue
        seen.add(m)
        if m.startswith('fer_fastai'):
            f = root/(m.replace('.', '/') + '.py')
            if f.exists(): todo |= _imports(f.read_text())
    return {m.split('.')[0] for m in seen} - {'fer_fastai'}

# what a Colab runtime has before any install, of what the notebooks import
COLAB_HAS = {'IPython', 'matplotlib_inline', 'google', 'kagglehub', 'ipykernel',
             'accelerate'}   # also imported by fer_fastai only under `accelerate launch`, which needs it installed

def _provided(extras) -> set:
    "Top-level module names importable after `pip install fer_fastai[extras]`: the requirements' closure, from installed metadata"
    import sys
    from importlib.metadata import requires, packages_distributions, PackageNotFoundError
    from packaging.requirements import Requirement
    norm = lambda n: n.lower().replace('_', '-').replace('.', '-')
    dists, todo = set(), [('fer_fastai', frozenset(extras))]
    while todo:
        name, ex = todo.pop()
        if (name, ex) in dists: continue
        dists.add((name, ex))
        try: reqs = requires(name) or []
        except PackageNotFoundError: continue
        for r in map(Requirement, reqs):
            if r.marker is None or any(r.marker.evaluate({'extra': e}) for e in (ex or {''})): todo.append((norm(r.name), frozenset(r.extras)))
    names = {norm(n) for n, _ in dists}
    mods = {m for m, ds in packages_distributions().items() if any(norm(d) in names for d in ds)}
    mods |= {m for d, ms in UNLISTED.items() if d in names for m in ms}
    return mods | set(sys.stdlib_module_names) | COLAB_HAS

# modules a distribution installs without naming them in its metadata (dlib-bin's top_level.txt names only _dlib_pybind11)
UNLISTED = {'dlib-bin': {'dlib'}}

def test_install_cells_provide_what_the_notebooks_import():
    "Each notebook's Colab install cell installs every module the notebook imports (or the library modules it uses import)"
    import re
    missing = {}
    for nb in NBS:
        if nb.name == 'index.ipynb': continue
        cell = next(_src(c) for c in _cells(nb) if '!pip install' in _src(c))
        m = re.search(r'fer_fastai(?:\[([\w,]+)\])? @', cell)
        assert m, f'{nb.name}: the install cell does not install fer_fastai: {cell}'
        lack = _notebook_needs(nb) - _provided((m[1] or '').split(',') if m[1] else [])
        if lack: missing[nb.name] = sorted(lack)
    assert not missing, f'modules the install cells do not install: {missing}'

def test_install_check_sees_a_missing_extra():
    "The check above fails where it should: without the extras, gradio and onnxruntime are not installed"
    assert {'gradio', 'onnxruntime', 'pytorch_grad_cam'} & _provided([]) == set()
    assert {'gradio', 'onnxruntime', 'pytorch_grad_cam', 'torch', 'cv2'} <= _provided(['all'])
