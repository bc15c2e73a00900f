import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest
from filelock import FileLock
from fer_fastai.core import default_fer_path

BIN = Path(sys.executable).parent
# Under pytest-xdist each worker (and each command a test starts) computes on one thread unless told otherwise: two workers of
# two OpenMP threads each on two cores wait on each other's threads (a test took four times as long), one thread each does not
if os.environ.get('PYTEST_XDIST_WORKER'): os.environ.setdefault('OMP_NUM_THREADS', '1')

def run(*args, cwd=None):
    "Run one of the package's console scripts (or any in the venv) with `args`; its CompletedProcess, output as text"
    return subprocess.run([str(BIN/args[0]), *map(str, args[1:])], capture_output=True, text=True, env=os.environ, cwd=cwd)

def train_small(src, out):
    "fer-train a resnet18 from scratch for one epoch on `src` into `out`; fail with its stderr if it fails"
    r = run('fer-train', src, '--arch', 'resnet18', '--no-pretrained', '--epochs', '1', '--lr', '1e-3', '--bs', '16', '--out', out)
    assert r.returncode == 0, r.stderr[-2000:]
    return r

# The longest tests (seconds on 2 cores, from `--durations`), started first: under pytest-xdist a long test that starts last
# is the whole run's tail. The rest keep their order
FIRST = ('test_main.py::', 'test_resume.py::test_killed_in_each_stage', 'test_resume.py::test_killed_in_lr_find', 'test_cli.py::test_fer_ship',
         'test_cli.py::test_fer_cam', 'test_cli.py::test_fer_train_refuses', 'test_cam.py::test_map_mass', 'test_model_faults.py::test_fer_predict_names',
         'test_study.py::', 'test_inference.py::test_fer_app')

def pytest_collection_modifyitems(config, items):
    rank = lambda item: next((i for i, f in enumerate(FIRST) if f in item.nodeid), len(FIRST))
    items.sort(key=rank)   # stable: within a rank, collection order

def _digest(d:Path) -> dict:
    "Every file under `d` and the sha256 of its bytes"
    import hashlib
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob('*')) if p.is_file()}

@pytest.fixture(scope='session')
def small_run(tmp_path_factory):
    """The one trained model of a test run, for every test that needs one (evaluate, CAM, interpret, predict, video, export,
    the app, ship's refusal): `fer-train` (the command) trains a resnet18 from scratch for one epoch on synthetic faces, 8 an
    emotion in each of Training, PublicTest and PrivateTest. Trained once per run: under pytest-xdist the first worker to ask
    trains it under a file lock and the others read it. (source, run folder): shared, so a test writes elsewhere, and a
    test that changed a file there fails this fixture's teardown"""
    from fer_fastai.synth import synth_fer
    root = _run_root(tmp_path_factory)
    d = root/'small_run'
    with FileLock(str(root/'small_run.lock')):
        if not (d/'done').exists():
            shutil.rmtree(d, ignore_errors=True); d.mkdir()
            src = synth_fer(d/'f.csv', n_per_class=8, splits=('Training', 'PublicTest', 'PrivateTest'))
            train_small(src, d/'run')
            (d/'done').write_text(json.dumps(_digest(d)))
    yield d/'f.csv', d/'run'
    was = json.loads((d/'done').read_text())
    now = {k: v for k, v in _digest(d).items() if k != 'done'}
    assert now == was, f"a test changed the shared model's folder {d}: {sorted(set(now.items()) ^ set(was.items()))[:6]}"

def _run_root(tmp_path_factory) -> Path:
    "The temporary folder of this test run: under pytest-xdist, the one all its workers share"
    root = tmp_path_factory.getbasetemp()
    return root.parent if os.environ.get('PYTEST_XDIST_WORKER') else root

@pytest.fixture(autouse=True, scope='session')
def _cache(tmp_path_factory):
    "Parsed sources and ONNX graphs go to a cache folder of this test run, shared by its workers (each writes a file whole, then renames it)"
    os.environ['FER_CACHE'] = str(_run_root(tmp_path_factory)/'fer_cache')

@pytest.fixture(scope='session')
def real_path() -> Path:
    "The real FER2013 CSV ($FER2013_CSV or ../shared/data/fer2013/train_public.csv.gz); skips when absent"
    p = default_fer_path()
    if not p.exists(): pytest.skip(f'real FER2013 not found at {p}; set FER2013_CSV to run these tests')
    return p

@pytest.fixture(scope='session')
def real(real_path):
    from fer_fastai.data import read_fer
    return read_fer(real_path)

def chromium():
    "Debian's Chromium, when it and the playwright package are both here (.ci/run installs both); else None"
    try: import playwright.sync_api  # noqa: F401
    except ImportError: return None
    return shutil.which('chromium') or shutil.which('chromium-browser')

CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
