"""One decoder for every entry point (issue 30): each kind of image file users have gives the same face through the image-folder
reader, `to_face` (what fer-cam draws a file with), `predict_emotions` on a path and on a PIL image, `fer-predict --faces`, the app's
upload and a video made of the image; a 16-bit file gives what its 8-bit form gives"""
import json
import numpy as np, pytest
from pathlib import Path
from PIL import Image
from fer_fastai.core import EMOTIONS
from fer_fastai.synth import synth_faces
from test_cli import run

def _kinds(d:Path, face:np.ndarray) -> dict:
    "{name: (file, the grey face it should give)} for the kinds of image users have; each file holds `face` (or a known change of it)"
    rgb = np.dstack([face, np.roll(face, 3, 0), face[:, ::-1]])
    grey_of = lambda a: np.asarray(Image.fromarray(a).convert('L'))
    alpha = np.tile(np.linspace(40, 255, 48).round().astype(np.uint8), (48, 1))
    flat = lambda a: np.round(a*(alpha/255) + 255*(1 - alpha/255)).astype(np.uint8)
    out = {}
    def save(name, im, want, **kw): im.save(d/name, **kw); out[name] = (d/name, want)
    save('grey8.png', Image.fromarray(face), face)
    save('grey16.png', Image.fromarray(face.astype(np.uint16)*257), face)               # 16-bit: scaled, not clipped to white
    save('float.tif', Image.fromarray(face.astype(np.float32)/255), face)
    save('rgb.png', Image.fromarray(rgb), grey_of(rgb))
    pal = Image.fromarray(rgb).convert('P', palette=Image.Palette.ADAPTIVE, colors=256)
    save('palette.png', pal, grey_of(np.asarray(pal.convert('RGB'))))
    cmyk = Image.fromarray(rgb).convert('CMYK')
    save('cmyk.tif', cmyk, grey_of(np.asarray(cmyk.convert('RGB'))))
    save('grey_alpha.png', Image.fromarray(np.dstack([face, alpha]), 'LA'), flat(face))  # transparency flattened onto white
    save('rgba.png', Image.fromarray(np.dstack([rgb, alpha])), grey_of(np.dstack([flat(rgb[..., c]) for c in range(3)])))
    ex = Image.Image.getexif(Image.fromarray(face)); ex[0x0112] = 8                    # stored turned: 'rotate 270 to view'
    save('exif.png', Image.fromarray(np.rot90(face, -1)), face, exif=ex)
    return out

@pytest.fixture(scope='module')
def kinds(tmp_path_factory):
    d = tmp_path_factory.mktemp('kinds')
    (d/'fer'/'train'/'happy').mkdir(parents=True)
    ks = _kinds(d/'fer'/'train'/'happy', synth_faces([3], seed=5)[0])
    return d, ks

def test_decoder_gives_each_kind_as_it_should(kinds):
    from fer_fastai.images import to_face
    _, ks = kinds
    for name, (f, want) in ks.items(): np.testing.assert_array_equal(to_face(f), want, err_msg=name)

def test_every_entry_point_gives_the_same_face(kinds):
    "The folder reader, predict_emotions (path and PIL), fer-predict --faces (onnxruntime and PyTorch), the app and a video: one face each"
    from fer_fastai.data import read_fer_folder
    from fer_fastai.images import to_face
    from fer_fastai.inference import load_model, face_probs
    from fer_fastai.learner import predict_emotions
    from fer_fastai.app import analyse
    d, ks = kinds
    names = sorted(ks)
    folder = read_fer_folder(d/'fer')
    np.testing.assert_array_equal(folder.x, np.stack([ks[n][1] for n in names]))           # the folder reader (files read sorted)
    learn, onx = load_model(runtime='torch'), load_model(runtime='onnx')
    want = face_probs(learn, [ks[n][1] for n in names])                                   # the faces themselves, as arrays
    for n in names:
        f = ks[n][0]
        with Image.open(f) as im:
            np.testing.assert_allclose(predict_emotions(learn, [f, im])[list(EMOTIONS)].values, want[[names.index(n)]*2], atol=1e-5, err_msg=n)
        np.testing.assert_allclose(list(analyse(learn, str(f), faces=True)[1].values()), want[names.index(n)], atol=1e-5, err_msg=n)
    np.testing.assert_allclose(face_probs(onx, [to_face(ks[n][0]) for n in names]), want, atol=1e-3)
    for rt in ('onnx', 'torch'):
        r = run('fer-predict', *[ks[n][0] for n in names], '--faces', '--json', '--runtime', rt)
        assert r.returncode == 0, r.stderr[-2000:]
        got = json.loads(r.stdout)
        np.testing.assert_allclose([[got[str(ks[n][0])][0][e] for e in EMOTIONS] for n in names], want, atol=1e-3 if rt == 'onnx' else 1e-5)

def test_a_video_of_the_image_shows_the_same_face(kinds, tmp_path):
    "synth_video (a video made of an image file) pastes what the decoder read: its first frame holds the 16-bit file's face as the 8-bit one's"
    import cv2
    from fer_fastai.video import synth_video
    _, ks = kinds
    frames = {}
    for n in ('grey8.png', 'grey16.png'):
        cap = cv2.VideoCapture(str(synth_video(tmp_path/f'{n}.mp4', ks[n][0], n=1))); ok, fr = cap.read(); cap.release()
        assert ok; frames[n] = fr[:48, :48].astype(int)
    assert np.abs(frames['grey8.png'] - frames['grey16.png']).max() <= 2 and frames['grey16.png'].mean() < 200   # not clipped to white
