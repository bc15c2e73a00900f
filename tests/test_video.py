"Faces in video and from a live source: detectors chosen by name on every command, faces followed with their ids, a camera read until its frame limit"
import subprocess, sys
import numpy as np, pandas as pd, pytest, cv2
from pathlib import Path
from PIL import Image
from fer_fastai.core import EMOTIONS, FerError
from fer_fastai.detect import ASTRONAUT_FACE, box_iou, get_detector
from test_cli import run
from test_inference import model, photo   # the same fixtures: a resnet18 model folder on synthetic faces, the astronaut

@pytest.fixture(scope='module')
def two_faces(tmp_path_factory):
    "An MP4 (640x480, 16 frames) of two astronauts side by side, moving toward each other 3 px a frame: (path, frames)"
    import skimage.data
    a = cv2.resize(skimage.data.astronaut(), (280, 280), interpolation=cv2.INTER_AREA)
    p = tmp_path_factory.mktemp('clip')/'two.mp4'
    w = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*'mp4v'), 15., (640, 480))
    for f in range(16):
        img = np.full((480, 640, 3), 60, np.uint8)
        img[100:380, 10 + 3*f:290 + 3*f] = a
        img[100:380, 350 - 3*f:630 - 3*f] = a
        w.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    w.release()
    return p

def test_fer_video_follows_two_faces(model, two_faces, tmp_path):
    "Both faces found, each with one id for the whole clip (left stays left), boxes moving toward each other; detected every 3rd frame"
    r = run('fer-video', two_faces, '--model', model, '--out', tmp_path/'out.mp4')
    assert r.returncode == 0, r.stderr[-2000:]
    assert '16 frames' in r.stdout and '2 faces followed' in r.stdout, r.stdout
    df = pd.read_csv(tmp_path/'out.csv')
    assert len(df) == 32 and sorted(df.face.unique()) == [0, 1]
    left = df.groupby('face').x.mean().idxmin()
    for f, g in df.groupby('frame'):
        assert sorted(g.face) == [0, 1] and g.set_index('face').x[left] < g.set_index('face').x[1 - left]
    xs = df[df.face == left].sort_values('frame').x.values
    assert xs[-1] - xs[0] > 30                                          # 45 px of motion, followed
    assert df.groupby('frame').detected.first().tolist() == [f % 3 == 0 for f in range(16)]
    np.testing.assert_allclose(df[list(EMOTIONS)].sum(axis=1), 1, atol=1e-4)
    cap = cv2.VideoCapture(str(tmp_path/'out.mp4')); assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 16; cap.release()

def test_fer_video_camera(model, two_faces, tmp_path):
    "--camera reads any OpenCV capture source (a file stands in for the webcam) until --frames; times from the clock; VIDEO and --camera together is an error"
    r = run('fer-video', '--camera', two_faces, '--model', model, '--frames', 5, '--out', tmp_path/'live.mp4', '--detector', 'haar', '--detect-every', 1)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f'reading camera {two_faces}' in r.stdout and '5 frames' in r.stdout
    df = pd.read_csv(tmp_path/'live.csv')
    assert sorted(df.frame.unique()) == [0, 1, 2, 3, 4] and df.detected.all()
    assert (np.diff(df.groupby('frame').time.first().values) > 0).all()
    cap = cv2.VideoCapture(str(tmp_path/'live.mp4')); assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5; cap.release()
    r = run('fer-video', two_faces, '--camera', '0', '--model', model)
    assert r.returncode == 1 and 'not both' in r.stderr
    r = run('fer-video', '--camera', '7', '--model', model, '--frames', 1)
    assert r.returncode == 1 and 'cannot open camera 7' in r.stderr and 'Traceback' not in r.stderr

def test_show_needs_a_gui_opencv(model, two_faces):
    "show=True on the headless OpenCV says which package shows windows, instead of OpenCV's own error"
    from fer_fastai.video import predict_video
    from fer_fastai.inference import load_model
    if 'GUI' in cv2.getBuildInformation() and 'GTK' in cv2.getBuildInformation(): pytest.skip('this OpenCV has windows')
    with pytest.raises(FerError, match='pip install opencv-python'): predict_video(load_model(model), two_faces, show=True)

@pytest.mark.parametrize('name', ['haar', 'blazeface', 'dlib'])
def test_fer_predict_detector(model, photo, name):
    "--detector picks the detector by name; each finds the astronaut's face where it was marked by hand"
    import json
    r = run('fer-predict', photo, '--model', model, '--detector', name, '--json')
    assert r.returncode == 0, r.stderr[-2000:]
    faces = json.loads(r.stdout)[str(photo)]
    assert box_iou([[f[k] for k in 'xywh'] for f in faces], ASTRONAUT_FACE).max() > 0.5, faces   # dlib also boxes her flag patch

def test_detector_errors(model, photo):
    "An unknown detector, an unknown option or a missing extra: exit code 1 and a message that names the fix"
    r = run('fer-predict', photo, '--model', model, '--detector', 'retina')
    assert r.returncode == 1 and "choose one of haar, blazeface, dlib" in r.stderr and 'Traceback' not in r.stderr
    r = run('fer-video', photo, '--model', model, '--detector', 'blazeface:size=3')
    assert r.returncode == 1 and 'no option size; its options: input_size, score, iou' in r.stderr
    code = "import sys; sys.modules['dlib'] = None\nfrom fer_fastai.detect import get_detector\ntry: get_detector('dlib')\nexcept Exception as e: print(type(e).__name__, e)"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True).stdout
    assert out.startswith('FerError') and "pip install 'fer_fastai[dlib]'" in out, out

def test_detection_scores_on_real_detectors():
    "The benchmark's scoring with real detectors: each finds the astronaut (scene 0); every other box it draws there is a false positive; a blank photo gives none"
    from fer_fastai.detect import astronaut_scene, detection_scores
    img, box = astronaut_scene()
    blank = np.full((480, 640, 3), 128, np.uint8)
    for name in ('haar', 'blazeface', 'dlib'):
        found = get_detector(name)(img)
        assert get_detector(name)(blank).shape == (0, 4)
        r = detection_scores(name, [(img, box), (blank, np.zeros((0, 4)))])
        assert (r['recall'], r['faces']) == (1.0, 1) and r['fp_per_image'] == (len(found) - 1)/2, (name, r, found)
