"The README's main job as written: `bash bin/main` from the repository's root, relative paths and all, on the small budget of FER_QUICK=1"
import json, os, shutil, subprocess, sys
from pathlib import Path
from PIL import Image

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent

def test_bin_main_quick(real_path):
    "Every file bin/main promises is written under runs/quick, and its scores are those of a fresh fer-evaluate of its model"
    out = ROOT/'runs'/'quick'
    shutil.rmtree(out, ignore_errors=True)
    r = subprocess.run(['bash', 'bin/main'], cwd=ROOT, env={**os.environ, 'FER_QUICK': '1'}, capture_output=True, text=True)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    assert r.stdout.rstrip().endswith('wrote runs/quick/')
    files = {p.name for p in out.iterdir()}
    assert {'config.json', 'model.safetensors', 'README.md', 'history.csv', 'metrics.json', 'losses.png', 'confusion_matrix.png', 'lr_find_frozen.png',
            'eval_PublicTest.json', 'eval_PublicTest_tta.json'} <= files, files
    for png in out.glob('*.png'): assert min(Image.open(png).size) > 100, png
    m = json.loads((out/'metrics.json').read_text())
    assert m['n_train'] == 7*300 and m['max_per_class'] == 300 and m['size'] == 48 and m['num_it'] == 30
    assert len((out/'history.csv').read_text().splitlines()) == 1 + 2                      # header, a frozen and an unfrozen epoch
    ev, tta = (json.loads((out/f'eval_PublicTest{s}.json').read_text()) for s in ('', '_tta'))
    assert ev['n'] == tta['n'] == m['n_valid'] == 3589 and tta['tta'] and not ev['tta']
    assert abs(ev['accuracy'] - m['valid']['accuracy']) < 1e-9 and ev['confusion'] == m['valid']['confusion']
    r = subprocess.run([str(BIN/'fer-evaluate'), str(real_path), '--model', 'runs/quick', '--split', 'PublicTest', '--json-out', str(out/'again.json')],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    again = json.loads((out/'again.json').read_text())
    assert again['confusion'] == ev['confusion'] and again['f1_macro'] == ev['f1_macro']
