"Faces in photos and video from the command line, ONNX export, and the Gradio app driven from a real browser"
import json, os, re, shutil, socket, subprocess, sys, time, urllib.request
import numpy as np, pandas as pd, pytest
from pathlib import Path
from PIL import Image
from fer_fastai.core import EMOTIONS
from fer_fastai.synth import synth_fer
from test_cli import run
from conftest import chromium, CHROMIUM_ARGS

@pytest.fixture(scope='module')
def model(tmp_path_factory):
    "A resnet18 trained for an epoch on synthetic faces, exported as fer-train does"
    from fastai.vision.all import ProgressCallback
    from fer_fastai.data import fer_dls
    from fer_fastai.learner import fer_learner
    d = tmp_path_factory.mktemp('model')
    learn = fer_learner(fer_dls(synth_fer(d/'f.csv', n_per_class=8), bs=16, aug=False), 'resnet18', pretrained=False)
    with learn.no_logging(): learn.remove_cb(ProgressCallback).fit(1, 1e-3)
    from fer_fastai.modelfile import save_fer_model
    return save_fer_model(learn, d/'model')

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
    lib = predict_faces(load_model(model), photo)
    assert len(res) == 1 and res[0]['emotion'] == lib.emotion[0]
    np.testing.assert_allclose([res[0][e] for e in EMOTIONS], lib[list(EMOTIONS)].values[0], atol=1e-6)
    (tmp_path/'bad.jpg').write_text('not a photo')
    r = run('fer-predict', tmp_path/'bad.jpg', '--model', model)
    assert r.returncode == 1 and 'cannot read' in r.stderr and 'bad.jpg' in r.stderr and 'Traceback' not in r.stderr

def test_fer_video(model, photo, tmp_path):
    "Every frame in the table and the written video; blank frames have no face; the plot is written"
    import cv2
    from fer_fastai.inference import synth_video
    vid = synth_video(tmp_path/'in.mp4', np.asarray(Image.open(photo)), n=10, blank=(3,))
    r = run('fer-video', vid, '--model', model, '--out', tmp_path/'out.mp4')
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

@pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium and the playwright package (.ci/run installs both)")
def test_fer_app_in_browser(model, photo, tmp_path):
    "fer-app serves on 127.0.0.1; headless Chromium uploads the photo and sees the predicted emotion and the images"
    from playwright.sync_api import sync_playwright
    from fer_fastai.inference import load_model, predict_faces
    want = predict_faces(load_model(model), photo).emotion[0]
    port = _free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED='False')
    app = subprocess.Popen([str(Path(sys.executable).parent/'fer-app'), str(model), '--port', str(port)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f'http://127.0.0.1:{port}/'
    try:
        for _ in range(240):
            try: urllib.request.urlopen(url, timeout=1); break
            except OSError: time.sleep(0.5)
            assert app.poll() is None, app.stdout.read()[-3000:]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url, wait_until='networkidle')
            page.locator('input[type=file]').first.set_input_files(str(photo))
            page.get_by_role('button', name=re.compile('^submit$', re.I)).click()
            label = page.get_by_test_id('label-output-value')
            label.wait_for(timeout=60_000)
            assert label.inner_text().strip() == want
            imgs = page.locator('img[src*="/file="], img[src*="gradio_api/file"]')
            imgs.nth(2).wait_for(timeout=30_000)          # the photo in, the annotated photo and the CAM out
            page.screenshot(path=str(tmp_path/'app.png'), full_page=True)
            browser.close()
    finally:
        app.terminate(); app.wait(10)
