import os, shutil, warnings
from pathlib import Path
import pytest
from fer_fastai.core import default_fer_path

@pytest.fixture(autouse=True, scope='session')
def _cache(tmp_path_factory):
    "Parsed sources go to a cache folder of this test session"
    os.environ['FER_CACHE'] = str(tmp_path_factory.mktemp('fer_cache'))

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
