"""The documentation site: `bash bin/docs` builds it from the notebooks on a fresh clone; headless Chromium opens the index, an API page,
a tutorial and a command's page, and no internal link of any page is broken"""
import functools, re, subprocess, threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse
import numpy as np, pytest
from PIL import Image
from conftest import chromium, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT/'_docs'

@pytest.fixture(scope='session')
def site(tmp_path_factory):
    "`bash bin/docs`, once a test run: under pytest-xdist the first worker to ask builds the site (into the repository's _docs/) under a file lock"
    from filelock import FileLock
    from conftest import _run_root
    root = _run_root(tmp_path_factory)
    with FileLock(str(root/'docs.lock')):
        if not (root/'docs.built').exists():
            r = subprocess.run(['bash', 'bin/docs'], cwd=ROOT, capture_output=True, text=True)
            assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
            assert 'wrote the site to _docs/' in r.stdout
            (root/'docs.built').touch()
    return SITE

class _Links(HTMLParser):
    def __init__(self): super().__init__(); self.links, self.ids = [], set()
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.add(a['id'])
        for k in ('href', 'src'):
            if a.get(k): self.links.append(a[k])

def _parse(page:Path) -> _Links:
    p = _Links(); p.feed(page.read_text(errors='replace')); return p

def _target(page:Path, link:str):
    "The file an internal link points at (a folder means its index.html), and its #fragment; None for links out of the site"
    u = urlparse(link)
    if u.scheme or u.netloc or link.startswith(('#', 'data:', 'mailto:', 'javascript:')): return None
    path = unquote(u.path)   # 404.html links from the site's root on its host (site_url's path, /fer_fastai/)
    t = (SITE/path.removeprefix('/fer_fastai/') if path.startswith('/') else page.parent/path).resolve()
    return (t/'index.html' if t.is_dir() else t), u.fragment

def test_every_page_and_internal_link(site):
    pages = sorted(site.rglob('*.html'))
    nbs = sorted(p.stem for p in (ROOT/'nbs').glob('*.ipynb') if p.stem != 'index')
    mods = sorted(p.stem for p in (ROOT/'fer_fastai').glob('*.py') if not p.stem.startswith('_'))
    for name in [*nbs, *(f'api/{m}' for m in mods), 'cli/fer-train', 'cli/fer-data']: assert (site/name/'index.html').is_file(), name
    broken, checked = [], 0
    for page in pages:
        for link in _parse(page).links:
            t = _target(page, link)
            if t is None: continue
            checked += 1
            if not t[0].exists(): broken.append((str(page.relative_to(site)), link))
            elif t[1] and t[0].suffix == '.html' and t[1] not in _parse(t[0]).ids: broken.append((str(page.relative_to(site)), link))
    assert checked > 1000 and not broken, broken[:20]

@pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium and the playwright package (.ci/run installs both)")
def test_pages_render_in_chromium(site, tmp_path):
    from playwright.sync_api import sync_playwright
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    server = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(site)))   # served, as the site is (search needs http)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f'http://127.0.0.1:{server.server_port}/'
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=dict(width=1280, height=1000))
        def visit(path):
            page.goto(base + path.removesuffix('index.html'), wait_until='load')
            page.screenshot(path=str(tmp_path/(path.replace('/', '_') + '.png')), full_page=False)
            assert np.asarray(Image.open(tmp_path/(path.replace('/', '_') + '.png')).convert('L')).std() > 10   # drawn, not a blank page
            return page
        visit('index.html')
        assert page.title().startswith('fer_fastai')
        nav = page.locator('nav.md-nav--primary a.md-nav__link').all_inner_texts()
        assert 'Tutorial: FER2013 with fastai, step by step' in nav and 'fer_fastai.data' in nav and 'fer-train' in nav
        assert page.locator('article img[src*="images/astronaut_fer.jpg"]').evaluate('i => i.naturalWidth') > 0   # the README's figure, loaded
        visit('api/data/index.html')
        h = page.locator('h2#fer_fastai.data.read_fer, h2[id$="read_fer"]').first
        assert h.is_visible()
        sig = page.locator('article').inner_text()
        assert re.search(r'read_fer\(\s*source', sig) and 'Read FER2013 from its CSV' in sig and 'on_bad' in sig
        visit('10_tutorial_fer2013/index.html')
        text = page.locator('article').inner_text()
        assert 'Tutorial: FER2013 with fastai, step by step' in text and 'FerData: 32296 faces' in text   # a kept output
        figs = page.locator('article img[src^="data:image"]')
        assert figs.count() >= 1 and all(w > 100 for w in figs.evaluate_all('els => els.map(i => i.naturalWidth)'))   # its kept figure (the history plot), drawn
        visit('cli/fer-train/index.html')
        assert '--epochs' in page.locator('article pre').first.inner_text()
        # the search index works offline
        visit('index.html')
        page.locator('label.md-search__icon, .md-search__input').first.click()
        # the search worker builds its index first ("Initializing search" until then), then searches as keys are typed: a value
        # set without key events (playwright's fill) is searched only if it was there before the index was ready, which made
        # this test pass or fail with the machine's load
        page.wait_for_function("() => !document.querySelector('.md-search-result__meta').textContent.includes('Initializing')", timeout=300_000)
        page.locator('input.md-search__input').press_sequentially('read_fer')
        hit = page.locator('.md-search-result__item').first
        hit.wait_for(timeout=60_000)
        assert 'read_fer' in hit.inner_text()
        browser.close()
    server.shutdown()
