"Faces in photos and video from the command line, ONNX export, and the Gradio app driven from a real browser"
import json, os, re, shutil, socket, subprocess, sys, time, urllib.request
import numpy as np, pandas as pd, pytest
from pathlib import Path
from PIL import Image
from fer_fastai.core import EMOTIONS
from test_cli import run
from conftest import chromium, CHROMIUM_ARGS

@pytest.fixture(scope='module')
def model(small_run):
    "The run's one trained model folder (conftest's `small_run`: fer-train, a resnet18, an epoch on synthetic faces)"
    return small_run[1]

@pytest.fixture(scope='module')
def photo(tmp_path_factory):
    "scikit-image's astronaut (one frontal face) as a JPEG"
    import skimage.data
    p = tmp_path_factory.mktemp('photo')/'astronaut.jpg'
    Image.fromarray(skimage.data.astronaut()).save(p, quality=95)
    return p

def test_fer_predict_photo_and_folder(model, photo, tmp_path):
    "One face in the astronaut, annotated PNG written, JSON equal to the library's result, a blank photo has none"
    from fer_fastai.inference import load_model, predict_faces
    Image.fromarray(np.full((240, 320, 3), 90, np.uint8)).save(tmp_path/'blank.png')
    r = run('fer-predict', photo, tmp_path/'blank.png', '--model', model, '--out', tmp_path/'ann')
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'astronaut.jpg: 1 face' in r.stdout and 'blank.png: 0 faces' in r.stdout
    ann = np.asarray(Image.open(tmp_path/'ann'/'astronaut_fer.png'))
    assert ann.shape == (512, 512, 3) and (ann != np.asarray(Image.open(photo))).any()
    r = run('fer-predict', model, photo.parent, '--json')   # MODEL first, the older form
    res = json.loads(r.stdout)[str(photo)]
    lib = predict_faces(load_model(model, runtime='onnx'), photo)   # the command's default runtime: onnxruntime, where installed
    assert len(res) == 1 and res[0]['emotion'] == lib.emotion[0]
    np.testing.assert_allclose([res[0][e] for e in EMOTIONS], lib[list(EMOTIONS)].values[0], atol=1e-6)
    (tmp_path/'bad.jpg').write_text('not a photo')
    r = run('fer-predict', tmp_path/'bad.jpg', '--model', model)
    assert r.returncode == 1 and 'bad.jpg is not an image' in r.stderr and 'Traceback' not in r.stderr

@pytest.fixture(scope='module')
def crops(tmp_path_factory, real):
    "20 FER2013 faces of PublicTest as 48x48 PNGs, the form face data sets come in"
    d = tmp_path_factory.mktemp('crops')
    for i, k in enumerate(real.idxs('PublicTest')[:20]): Image.fromarray(real.x[k]).save(d/f'{i:02d}.png')
    return d

@pytest.mark.parametrize('which', ['folder', 'shipped'])
def test_runtimes_agree_on_photos_and_crops(model, photo, crops, which):
    "fer-predict under onnxruntime and under PyTorch: the same faces, emotions and probabilities (to 1e-3) on a photo and on crops given as faces, for a model folder and the shipped model"
    m = ['--model', model] if which == 'folder' else []
    for args in ([photo], [crops, '--faces']):
        out = {rt: json.loads(run('fer-predict', *args, *m, '--json', '--runtime', rt).stdout) for rt in ('onnx', 'torch')}
        assert list(out['onnx']) == list(out['torch']) and len(out['onnx']) == (1 if len(args) == 1 else 20)
        for f in out['onnx']:
            a, b = out['onnx'][f], out['torch'][f]
            assert len(a) == len(b) == 1 and a[0]['emotion'] == b[0]['emotion'] and [a[0][k] for k in 'xywh'] == [b[0][k] for k in 'xywh'], (f, a, b)
            np.testing.assert_allclose([a[0][e] for e in EMOTIONS], [b[0][e] for e in EMOTIONS], atol=1e-3)

def test_labelling_a_photo_loads_no_training_stack(photo):
    "The photo path, library and command, in a fresh process: fastai, timm, torchvision (and torch) never load"
    code = ("import sys\nfrom fer_fastai.inference import load_model, predict_faces\n"
            f"r = predict_faces(load_model(runtime='auto'), {str(photo)!r})\nassert len(r) == 1, r\n"
            "print(sorted(m for m in ('fastai', 'timm', 'torchvision', 'torch') if m in sys.modules))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == '[]', (r.stdout, r.stderr[-2000:])
    script = Path(sys.executable).parent/'fer-predict'   # the console script, run in this process so that its modules can be listed
    code = (f"import sys, runpy\nsys.argv = ['fer-predict', {str(photo)!r}]\n"
            f"try: runpy.run_path({str(script)!r}, run_name='__main__')\nexcept SystemExit: pass\n"
            "print(sorted(m for m in ('fastai', 'timm', 'torchvision', 'torch') if m in sys.modules))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip().endswith('[]') and '1 face' in r.stdout, (r.stdout, r.stderr[-2000:])

def test_fer_predict_crops_to_csv(model, crops, tmp_path):
    "A folder of crops as one table: a row per face, counts that add up, unreadable files listed; crops searched for faces get the --faces hint; no dependency warnings; paths as given"
    (tmp_path/'in').mkdir()
    for f in crops.iterdir(): shutil.copy(f, tmp_path/'in'/f.name)
    (tmp_path/'in'/'zz.png').write_bytes(b'\x89PNG broken')
    r = run('fer-predict', 'in', '--faces', '--csv', 'out/faces.csv', '--model', model, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    tab = pd.read_csv(tmp_path/'out'/'faces.csv')
    assert len(tab) == 20 and tab.file.tolist() == [f'in/{i:02d}.png' for i in range(20)] and (tab.face == 0).all()
    np.testing.assert_allclose(tab[list(EMOTIONS)].sum(axis=1), 1, atol=1e-4)
    assert '21 images: 20 labelled (20 faces), 0 without a face, 1 unreadable; wrote out/faces.csv' in r.stdout, r.stdout
    assert 'in/zz.png' in r.stderr and 'Warning' not in r.stderr, r.stderr
    r = run('fer-predict', 'in/00.png', '--model', model, cwd=tmp_path)
    assert 'in/00.png: 0 faces (no face found; it is 48x48: if each image is one face (a crop), give --faces' in r.stdout, r.stdout
    r = run('fer-predict', 'in/00.png', '--faces', '--out', 'ann/', '--runtime', 'torch', '--model', model, cwd=tmp_path)
    assert r.returncode == 0 and 'in/00.png: 1 face' in r.stdout and 'wrote 1 annotated photo(s) to ann/\n' in r.stdout, r.stdout
    assert 'Warning' not in r.stderr, r.stderr   # PyTorch and fastai loaded, their known warnings filtered

def test_fer_video(model, photo, tmp_path):
    "Every frame in the table and the written video; blank frames have no face; the plot is written"
    import cv2
    from fer_fastai.inference import synth_video
    vid = synth_video(tmp_path/'in.mp4', np.asarray(Image.open(photo)), n=10, blank=(3,))
    r = run('fer-video', vid, '--model', model, '--out', tmp_path/'out.mp4', '--detector', 'haar', '--detect-every', 1)
    assert r.returncode == 0, r.stderr[-2000:]
    df = pd.read_csv(tmp_path/'out.csv')
    assert sorted(set(df.frame)) == [0, 1, 2, 4, 5, 6, 7, 8, 9] and (df.face == 0).all()
    np.testing.assert_allclose(df[list(EMOTIONS)].sum(axis=1), 1, atol=1e-4)
    cap = cv2.VideoCapture(str(tmp_path/'out.mp4'))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10 and (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (640, 480)
    cap.release()
    assert (tmp_path/'out.png').stat().st_size > 10_000

def test_fer_export_onnx_parity(model, photo, tmp_path):
    "fer-export writes an ONNX model whose predictions on the photo's face match PyTorch's to 1e-4"
    from fer_fastai.inference import load_model, predict_faces
    r = run('fer-export', model, '--out', tmp_path/'fer.onnx')
    assert r.returncode == 0, r.stderr[-2000:]
    onx, learn = load_model(tmp_path/'fer.onnx'), load_model(model)
    a, b = predict_faces(onx, photo), predict_faces(learn, photo)
    assert len(a) == len(b) == 1
    np.testing.assert_allclose(a[list(EMOTIONS)].values, b[list(EMOTIONS)].values, atol=1e-4)
    r = run('fer-predict', photo, '--model', tmp_path/'fer.onnx')
    assert r.returncode == 0 and f'{b.emotion[0]}' in r.stdout

def _free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

from contextlib import contextmanager
@contextmanager
def served_app(model):
    "`fer-app MODEL` on a free port of 127.0.0.1, once it answers: its URL; stopped after"
    port = _free_port()
    app = subprocess.Popen([str(Path(sys.executable).parent/'fer-app'), str(model), '--port', str(port)],
                           env=dict(os.environ, GRADIO_ANALYTICS_ENABLED='False'), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f'http://127.0.0.1:{port}/'
    try:
        for _ in range(240):
            try: urllib.request.urlopen(url, timeout=1); break
            except OSError: time.sleep(0.5)
            assert app.poll() is None, app.stdout.read()[-3000:]
        yield url
    finally:
        app.terminate(); app.wait(10)

@pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium and the playwright package (.ci/run installs both)")
def test_fer_app_in_browser(model, photo, tmp_path):
    "fer-app serves on 127.0.0.1; headless Chromium uploads the photo and sees the predicted emotion and the images"
    from playwright.sync_api import sync_playwright
    from fer_fastai.inference import load_model, predict_faces
    want = predict_faces(load_model(model), photo).emotion[0]
    with served_app(model) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url, wait_until='load')   # the live tab's stream keeps the network from going idle
        page.locator('input[type=file]').first.set_input_files(str(photo))
        page.get_by_role('button', name=re.compile('^submit$', re.I)).click()
        label = page.get_by_test_id('label-output-value')
        label.wait_for(timeout=60_000)
        assert label.inner_text().strip() == want
        imgs = page.locator('img[src*="/file="], img[src*="gradio_api/file"]')
        imgs.nth(2).wait_for(timeout=30_000)          # the photo in, the annotated photo and the CAM out
        page.screenshot(path=str(tmp_path/'app.png'), full_page=True)
        browser.close()

def write_y4m(path, frames, fps:int=15):
    "A YUV4MPEG2 (4:2:0) file of RGB frames, which Chromium's fake camera plays in a loop"
    import cv2
    h, w = frames[0].shape[:2]
    with open(path, 'wb') as f:
        f.write(f'YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n'.encode())
        for rgb in frames: f.write(b'FRAME\n' + cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())

@pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium and the playwright package (.ci/run installs both)")
def test_fer_app_live_webcam_in_browser(model, tmp_path):
    """The app's live tab in headless Chromium, its fake camera playing the astronaut: frames stream back, her face boxed
    in an emotion's colour with its label above, the rest of the frame as the camera gave it"""
    from playwright.sync_api import sync_playwright
    from fer_fastai.detect import astronaut_scene, get_detector
    from fer_fastai.video import VIDEO_DETECTOR
    from fer_fastai.inference import EMOTION_COLORS
    img, _ = astronaut_scene()
    frames = [img.copy() for _ in range(10)]
    for i, f in enumerate(frames): f[:16, :16] = 25*i   # a corner that changes, so that each frame sent back is a new file
    write_y4m(tmp_path/'cam.y4m', frames)
    with served_app(model) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS + [
            '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', f'--use-file-for-fake-video-capture={tmp_path/"cam.y4m"}'])
        page = browser.new_page()
        page.goto(url, wait_until='load')
        page.get_by_role('tab', name='Live webcam').click()
        page.get_by_role('button', name='Click to Access Webcam').click()
        page.get_by_role('button', name='capture photo').click()   # gradio's start button of a streaming webcam
        out = page.locator('#live-out img').first
        out.wait_for(timeout=90_000)
        srcs = set()
        for _ in range(60):
            srcs.add(out.get_attribute('src'))
            if len(srcs) >= 3: break
            time.sleep(0.5)
        assert len(srcs) >= 3, srcs                                  # frame after frame comes back
        src = out.get_attribute('src')
        page.screenshot(path=str(tmp_path/'live.png'), full_page=True)
        browser.close()
        back = np.asarray(Image.open(urllib.request.urlopen(src)).convert('RGB')).astype(int)
    assert back.shape == img.shape
    back[:16, :16], back[:16, -16:] = img[:16, :16], img[:16, -16:]                   # the changing corner, either side
    ref = min((img, img[:, ::-1]), key=lambda r: np.abs(back - r).mean()).astype(int)   # as sent, or mirrored by the webcam view
    x, y, w, h = get_detector(VIDEO_DETECTOR)(ref.astype(np.uint8))[0]                  # her face, where the app must have drawn
    colours = np.array(list(EMOTION_COLORS.values()))
    # the box's left edge: a column near her box's (the app found it on the frame as the browser sent it) in an emotion's colour
    dist = lambda c: np.abs(colours - c).max(1).min()
    x = min(range(max(0, x - 4), x + 5), key=lambda c: dist(back[y + 5:y + h - 5, c].mean(0)))
    edge = back[y + 5:y + h - 5, x].mean(0)
    assert dist(edge) < 40 and np.abs(edge - ref[y + 5:y + h - 5, x].mean(0)).max() > 40, (edge, ref[y + 5:y + h - 5, x].mean(0))
    label = back[max(0, y - 12):y - 4, x + 4:x + w//2].reshape(-1, 3)                 # the label's box above it, filled in the same colour
    assert (np.abs(label - edge).max(1) < 60).mean() > 0.5
    inside = (slice(y + 10, y + h - 10), slice(x + 10, x + w - 10))
    assert np.abs(back[inside] - ref[inside]).mean() < 12                               # her face itself as the camera gave it
