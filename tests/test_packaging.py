"The shipped model and the BlazeFace detector travel with the package: in the wheel, and where an editable install loads it from"
import subprocess, sys, zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
FILES = ('config.json', 'model.safetensors', 'README.md')

def test_editable_install_loads_the_shipped_model():
    from fer_fastai.modelfile import SHIPPED, read_config
    assert SHIPPED.is_relative_to(ROOT/'fer_fastai') and all((SHIPPED/f).is_file() for f in FILES)
    cfg = read_config(SHIPPED)
    assert cfg['dtype'] == 'float16' and (SHIPPED/'model.safetensors').stat().st_size <= 10e6

def test_wheel_carries_the_shipped_model(tmp_path):
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', str(ROOT), '-w', str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    names = zipfile.ZipFile(next(tmp_path.glob('fer_fastai-*.whl'))).namelist()
    for f in FILES: assert f'fer_fastai/pretrained/fer2013_lite0/{f}' in names, names
    for f in ('face_detection_short_range.tflite', 'README.md'): assert f'fer_fastai/pretrained/blazeface/{f}' in names, names

def test_blazeface_is_mediapipes_file():
    "The detector's weights are MediaPipe's file unchanged (the sha256 its README gives)"
    import hashlib
    from fer_fastai.detect import BLAZEFACE
    assert BLAZEFACE.is_relative_to(ROOT/'fer_fastai')
    sha = hashlib.sha256(BLAZEFACE.read_bytes()).hexdigest()
    assert sha == 'bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8' and sha in (BLAZEFACE.parent/'README.md').read_text()
