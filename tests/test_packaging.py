"The shipped model and the BlazeFace detector travel with the package: in the wheel, and where an editable install loads it from"
import subprocess, sys, zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
FILES = ('config.json', 'model.safetensors', 'model.onnx', 'README.md')

def test_editable_install_loads_the_shipped_model():
    from fer_fastai.modelfile import SHIPPED, read_config
    assert SHIPPED.is_relative_to(ROOT/'fer_fastai') and all((SHIPPED/f).is_file() for f in FILES)
    cfg = read_config(SHIPPED)
    assert cfg['dtype'] == 'float16'
    assert sum(f.stat().st_size for f in SHIPPED.iterdir()) <= 25e6          # what ships, graph included, within 25 MB
    assert (SHIPPED/'model.onnx').stat().st_size <= 0.05*(SHIPPED/'model.safetensors').stat().st_size   # the graph reads the weights beside it, not a copy
    from fer_fastai.inference import onnx_graph
    assert onnx_graph() == SHIPPED/'model.onnx'                                # its graph is keyed to these weights: run as shipped, not rebuilt

def test_wheel_carries_the_shipped_model(tmp_path):
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', str(ROOT), '-w', str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    names = zipfile.ZipFile(next(tmp_path.glob('fer_fastai-*.whl'))).namelist()
    for f in FILES: assert f'fer_fastai/pretrained/fer2013/{f}' in names, names
    for f in ('face_detection_short_range.tflite', 'README.md'): assert f'fer_fastai/pretrained/blazeface/{f}' in names, names

def test_blazeface_is_mediapipes_file():
    "The detector's weights are MediaPipe's file unchanged (the sha256 its README gives)"
    import hashlib
    from fer_fastai.detect import BLAZEFACE
    assert BLAZEFACE.is_relative_to(ROOT/'fer_fastai')
    sha = hashlib.sha256(BLAZEFACE.read_bytes()).hexdigest()
    assert sha == 'bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8' and sha in (BLAZEFACE.parent/'README.md').read_text()

def _loaded(code:str) -> list:
    "The fer_fastai modules a fresh interpreter has loaded after `code`"
    r = subprocess.run([sys.executable, '-c', code + "\nimport sys; print(' '.join(sorted(m for m in sys.modules if m.startswith('fer_fastai.'))))"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.split()

def test_split_modules_keep_what_users_import():
    "The README's imports from fer_fastai.learner give the functions that moved to train and evaluate, the very same objects"
    _loaded("from fer_fastai.learner import fer_learner, fine_tune_staged, evaluate\nfrom fer_fastai import learner\n"
            "import fer_fastai.train as t, fer_fastai.evaluate as e, fer_fastai.weights as w\n"
            "assert fine_tune_staged is t.fine_tune_staged and evaluate is e.evaluate and learner.train_fer is t.train_fer\n"
            "assert learner.get_arch is w.get_arch and learner.KeepBestEpoch is t.KeepBestEpoch")

def test_predicting_loads_no_training_code():
    "A predictor (photos, video, CAMs) loads neither the training recipe, with fastai's distributed patch, nor the scores"
    mods = _loaded("import fer_fastai.inference, fer_fastai.video, fer_fastai.cam")
    assert 'fer_fastai.learner' in mods and 'fer_fastai.train' not in mods and 'fer_fastai.evaluate' not in mods, mods
    assert 'fer_fastai.train' in _loaded("from fer_fastai.learner import train_fer")
