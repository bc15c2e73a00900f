"The notebooks as committed: no FER2013 faces in kept outputs"
import json
from pathlib import Path

NBS = sorted((Path(__file__).parents[1]/'nbs').glob('*.ipynb'))

def _cells(nb):
    return [c for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']

def test_notebooks_found():
    assert len(NBS) >= 10, NBS

def test_no_fer_faces_in_outputs():
    "Cells that draw FER2013's faces (flag fer_faces) keep no output: the dataset is not redistributed"
    flagged = [(nb.name, ''.join(c['source'])[:80]) for nb in NBS for c in _cells(nb)
               if any(l.strip().startswith('#| fer_faces') for l in ''.join(c['source']).splitlines()) and c.get('outputs')]
    assert not flagged, f'outputs kept in fer_faces cells: {flagged}; clear them (nbdev-test without --flags fer_faces)'

def test_fer_faces_cells_exist():
    "The guard above has cells to guard (the CAM grid and the top losses on FER2013)"
    n = sum(any(l.strip().startswith('#| fer_faces') for l in ''.join(c['source']).splitlines()) for nb in NBS for c in _cells(nb))
    assert n >= 2, n

def test_colab_badge_and_install():
    "Every notebook opens in Colab from a badge that points at itself; every library notebook has a Colab install cell nbdev-test skips"
    for nb in NBS:
        cells = json.loads(nb.read_text())['cells']
        md = ''.join(''.join(c['source']) for c in cells if c['cell_type'] == 'markdown')
        assert f'colab.research.google.com/github/fer-fastai/fer_fastai/blob/main/nbs/{nb.name})' in md, f'{nb.name} has no Colab badge to itself'
        if nb.name == 'index.ipynb': continue
        installs = [''.join(c['source']) for c in _cells(nb)
                    if any(l.lstrip().startswith(('!pip install', '%pip install')) for l in ''.join(c['source']).splitlines())]
        assert installs and all('#| eval: false' in s for s in installs), f'{nb.name}: the Colab install cell must exist and be #| eval: false'
