"""Every public function that takes a learner or a model, with the model and its data on a device other than the CPU.

There is no GPU here: `fer_fastai.testing.on_standin` puts them on a stand-in device that computes on the CPU but refuses
what a GPU refuses (`.numpy()`, CPU tensors meeting device ones). Each test compares with the same call on the CPU."""
import numpy as np, pandas as pd, pytest, torch
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from fastai.vision.all import ProgressCallback, one_param
from fer_fastai.core import EMOTIONS
from fer_fastai.data import fer_dls, read_fer
from fer_fastai.learner import *
from fer_fastai.cam import *
from fer_fastai.interpret import fer_interpretation, interpretation_summary, plot_top_losses_cam
from fer_fastai.inference import face_probs, predict_faces, export_onnx, OnnxFer
from fer_fastai.app import analyse
from fer_fastai.synth import synth_fer
from fer_fastai.testing import on_standin, STANDIN, StandIn

@pytest.fixture(scope='module')
def src(tmp_path_factory):
    return synth_fer(tmp_path_factory.mktemp('dev')/'f.csv', n_per_class=4, splits=('Training', 'PublicTest', 'PrivateTest'))

@pytest.fixture(scope='module')
def learn(src):
    "A resnet18 after one epoch on synthetic faces (BatchNorm statistics of its own), in eval mode"
    torch.manual_seed(0)
    l = fer_learner(fer_dls(src, bs=8, aug=False), 'resnet18', pretrained=False)
    with l.no_logging(): l.remove_cb(ProgressCallback).fit(1, 1e-3)
    return l

@pytest.fixture(scope='module')
def astronaut():
    import skimage.data
    return skimage.data.astronaut()

def _images(fig) -> list:
    "The pixel arrays of every image drawn in a figure"
    return [np.asarray(im.get_array(), dtype=np.float32) for ax in fig.axes for im in ax.images]

def test_standin_is_in_place(learn):
    "The block really moves the model and the batches the learner feeds it, and puts the model back"
    seen = []
    with on_standin(learn):
        assert one_param(learn.model).device == STANDIN and learn.dls.device == STANDIN
        h = learn.model.register_forward_pre_hook(lambda m, i: seen.append(type(i[0])))
        learn.get_preds(dl=learn.dls.valid)
        h.remove()
    assert seen and all(t is StandIn for t in seen), seen
    assert one_param(learn.model).device.type == 'cpu' and learn.dls.device != STANDIN

def test_cam_functions(learn):
    "Grad-CAM, Grad-CAM++ and plain CAM, their figures and the app's overlay: on the device as on the CPU"
    faces = list(learn.dls.fer.x[:3])
    xb = learner_faces(learn, faces)
    ref = {m: grad_cam(learn, xb, target=2, method=m)[0] for m in ('gradcam', 'gradcam++')}
    figs = [_images(cam_emotions(learn, faces[0])), _images(cam_grid(learn, split='PublicTest'))]
    lc = fer_learner(learn.dls, 'resnet18', pretrained=False, concat_pool=False, lin_ftrs=[])
    ref_cam = cam(lc, xb)[0]
    with on_standin(learn):
        xd = learner_faces(learn, faces)
        assert xd.device == STANDIN                                         # the batch is where the model is
        for m in ref: torch.testing.assert_close(grad_cam(learn, xd, target=2, method=m)[0].cpu(), ref[m], atol=1e-5, rtol=1e-4)
        ax = show_cam(faces[0], grad_cam(learn, xd)[0][0])                  # a map straight from the device
        assert ax.images[0].get_array().shape == (48, 48, 3)
        got = [_images(cam_emotions(learn, faces[0])), _images(cam_grid(learn, split='PublicTest'))]
    for a, b in zip(figs, got):
        assert len(a) == len(b) > 7
        for x, y in zip(a, b): np.testing.assert_allclose(x, y, atol=1e-4)
    with on_standin(lc):
        W, b = head_affine(lc.model[1])
        assert W.device == b.device == STANDIN
        torch.testing.assert_close(cam(lc, learner_faces(lc, faces))[0].cpu(), ref_cam, atol=1e-5, rtol=1e-4)
    plt.close('all')

def test_head_affine_without_bias():
    "A head whose Linear has no bias: the zero bias is made where the weights are"
    from torch import nn
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3, bias=False))
    W, b = head_affine(head)
    with on_standin():
        head.to(STANDIN)
        Wd, bd = head_affine(head)
        assert bd.device == STANDIN
        torch.testing.assert_close(Wd.cpu(), W); torch.testing.assert_close(bd.cpu(), b)

def test_predictions_scores_and_interpretation(learn, src):
    "predict_emotions, evaluate, get_preds and the interpretation on the device equal the CPU's"
    faces = list(learn.dls.fer.x[:5])
    ref_pred, ref_eval = predict_emotions(learn, faces), evaluate(learn)
    interp = fer_interpretation(learn, src, split='PrivateTest')
    ref_sum = interpretation_summary(interp, k=4)
    ref_top = _images(plot_top_losses_cam(interp, k=4))
    with on_standin(learn):
        pred, ev = predict_emotions(learn, faces), evaluate(learn)
        interp = fer_interpretation(learn, src, split='PrivateTest')
        summ = interpretation_summary(interp, k=4)
        top = _images(plot_top_losses_cam(interp, k=4))
        xb, probs, *_ = interp[[0, 1]]
        with torch.no_grad(): again = learn.model.eval()(xb).softmax(1).cpu()
    pd.testing.assert_frame_equal(pred, ref_pred, atol=1e-5)
    assert ev['confusion'] == ref_eval['confusion'] and abs(ev['accuracy'] - ref_eval['accuracy']) < 1e-9
    assert summ['confusion'] == ref_sum['confusion'] and [t['row'] for t in summ['top_losses']] == [t['row'] for t in ref_sum['top_losses']]
    for x, y in zip(ref_top, top): np.testing.assert_allclose(x, y, atol=1e-4)
    torch.testing.assert_close(again, probs, atol=1e-5, rtol=1e-4)
    plt.close('all')

def test_inference_and_export(learn, astronaut, tmp_path, monkeypatch):
    "face_probs, predict_faces, the app's analysis and the ONNX export from the device; the model stays there, even when the export fails"
    faces = list(learn.dls.fer.x[:4])
    ref_p, ref_faces, ref_app = face_probs(learn, faces), predict_faces(learn, astronaut), analyse(learn, astronaut)
    with on_standin(learn):
        np.testing.assert_allclose(face_probs(learn, faces), ref_p, atol=1e-5)
        pd.testing.assert_frame_equal(predict_faces(learn, astronaut), ref_faces, atol=1e-5)
        ann, probs, overlay = analyse(learn, astronaut)
        onx = OnnxFer(export_onnx(learn, tmp_path/'m.onnx'))
        assert one_param(learn.model).device == STANDIN and not learn.model.training
        def fail(*a, **k): raise RuntimeError('export failed')
        with monkeypatch.context() as mp:
            mp.setattr(torch.onnx, 'export', fail)
            with pytest.raises(RuntimeError, match='export failed'): export_onnx(learn, tmp_path/'n.onnx')
        assert one_param(learn.model).device == STANDIN
    np.testing.assert_array_equal(ann, ref_app[0]); np.testing.assert_array_equal(overlay, ref_app[2])
    assert probs == pytest.approx(ref_app[1], abs=1e-5)
    np.testing.assert_allclose(onx(faces), ref_p, atol=1e-4)

def test_video_and_live(learn, astronaut, tmp_path):
    "predict_video, a FaceStream (the app's live tab) and fast_model from the device: the same faces, ids and probabilities as on the CPU"
    from fer_fastai.video import FaceStream, predict_video, synth_video
    from fer_fastai.inference import fast_model
    from fer_fastai.app import live_frame
    vid = synth_video(tmp_path/'v.mp4', astronaut, n=4)
    ref_v, ref_s, ref_live = predict_video(learn, vid, progress=False), FaceStream(learn)(astronaut), live_frame(None, astronaut, learn)[0]
    with on_standin(learn):
        pd.testing.assert_frame_equal(predict_video(learn, vid, progress=False), ref_v, atol=1e-5)
        pd.testing.assert_frame_equal(FaceStream(learn)(astronaut), ref_s, atol=1e-5)
        np.testing.assert_array_equal(live_frame(None, astronaut, learn)[0], ref_live)
        onx = fast_model(learn)
        assert isinstance(onx, OnnxFer) and one_param(learn.model).device == STANDIN
    np.testing.assert_allclose(FaceStream(onx)(astronaut)[list(EMOTIONS)].values, ref_s[list(EMOTIONS)].values, atol=1e-4)

def test_staged_training(src):
    "The staged recipe trains on the device, with its epoch keeping, and learns what it learns on the CPU"
    def run(device):
        torch.manual_seed(0)
        l = fer_learner(fer_dls(src, bs=8), 'resnet18', pretrained=False)
        if device: 
            with on_standin(l): hist = fine_tune_staged(l, epochs=2, lr=1e-3)
        else: hist = fine_tune_staged(l, epochs=2, lr=1e-3)
        return hist, {s: v['kept'] for s, v in hist.attrs['stages'].items()}
    (h_cpu, k_cpu), (h_dev, k_dev) = run(False), run(True)
    np.testing.assert_allclose(h_dev.valid_loss.astype(float), h_cpu.valid_loss.astype(float), rtol=1e-4)
    assert k_dev['unfrozen']['epoch'] == k_cpu['unfrozen']['epoch']
    np.testing.assert_allclose(k_dev['unfrozen']['se'], k_cpu['unfrozen']['se'], rtol=1e-4)

def test_load_fer_learner_uses_the_gpu_when_there_is_one(learn, tmp_path, monkeypatch):
    "By default a loaded model goes where fastai puts models, the GPU when there is one; cpu=True keeps it on the CPU"
    import fer_fastai.learner as L
    import fer_fastai.modelfile as M
    learn.export(tmp_path/'m.pkl')
    seen = []
    real = M.load_learner
    monkeypatch.setattr(M, 'load_learner', lambda p, cpu: seen.append(cpu) or real(p, cpu=True))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    load_fer_learner(tmp_path/'m.pkl', trust_pickle=True); load_fer_learner(tmp_path/'m.pkl', cpu=True, trust_pickle=True)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    load_fer_learner(tmp_path/'m.pkl', trust_pickle=True)
    assert seen == [False, True, True]
    folder = M.save_fer_model(learn, tmp_path/'m')
    made = []
    real_dls = M._inference_dls
    def on_cpu(cfg, device=None):
        "Note where the folder's DataLoaders were asked to go, then build them on the CPU (this machine's CUDA cannot start)"
        made.append(device)
        with monkeypatch.context() as m:
            m.setattr(torch.cuda, 'is_available', lambda: False)
            return real_dls(cfg, device='cpu')
    monkeypatch.setattr(M, '_inference_dls', on_cpu)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'current_device', lambda: 0)   # fastai's default_device asks which GPU
    load_fer_learner(folder); load_fer_learner(folder, cpu=True)
    assert made[0] != 'cpu' and made[1] == 'cpu'              # a model folder: on the GPU by default too

def test_tta_and_calibration(learn, src):
    "Flip and ten-crop TTA, ECE and the temperature folded into the head: on the device as on the CPU (EraseFaces, a typed fastai transform, cannot be called on the stand-in, which is no TensorImage)"
    from fer_fastai.evaluate import tta_preds
    from fer_fastai.ship import fold_temperature
    ref = {m: evaluate(learn, tta=m) for m in ('flip', 'crop10')}
    ref_probs = tta_preds(learn, learn.dls.valid, 'crop10')[0]
    folded = fer_learner(learn.dls, 'resnet18', pretrained=False)   # (a deepcopy of a learner drops its faces, as pickling does)
    folded.model.load_state_dict(learn.model.state_dict())
    fold_temperature(folded.model, 2.)
    ref_folded = folded.get_preds()[0]
    with on_standin(learn):
        for m, r in ref.items():
            ev = evaluate(learn, tta=m)
            assert ev['confusion'] == r['confusion'] and abs(ev['ece'] - r['ece']) < 1e-6
        probs = tta_preds(learn, learn.dls.valid, 'crop10')[0]
        assert probs.device.type == 'cpu'
        torch.testing.assert_close(probs, ref_probs, atol=1e-5, rtol=1e-4)
    with on_standin(folded):
        fold_temperature(folded.model, 1.)                                  # (in place, where the weights are)
        torch.testing.assert_close(folded.get_preds()[0], ref_folded, atol=1e-5, rtol=1e-4)
