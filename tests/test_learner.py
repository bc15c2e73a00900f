import json, os, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from torchvision.models import resnet18
from fer_fastai.core import EMOTIONS, WeightsError
from fer_fastai.data import fer_dls
from fer_fastai.learner import *
from fer_fastai.synth import synth_fer

@pytest.fixture(scope='module')
def src(tmp_path_factory):
    return synth_fer(tmp_path_factory.mktemp('syn')/'fer.csv', n_per_class=6, splits=('Training', 'PublicTest', 'PrivateTest'))

def test_export_load_in_fresh_process(src, tmp_path):
    "Predictions of a learner and of its export loaded in another Python process are identical"
    learn = fer_learner(fer_dls(src, bs=16), 'resnet18', pretrained=False)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    from fer_fastai.modelfile import save_fer_model
    save_fer_model(learn, tmp_path/'model')
    faces = np.stack([learn.dls.fer.x[i] for i in learn.dls.fer.idxs('PrivateTest')])
    np.save(tmp_path/'faces.npy', faces)
    here = predict_emotions(learn, list(faces))
    code = ("import numpy as np, sys; from fer_fastai.learner import load_fer_learner, predict_emotions;"
            "l = load_fer_learner(sys.argv[1]); predict_emotions(l, list(np.load(sys.argv[2]))).to_csv(sys.argv[3], index=False)")
    subprocess.run([sys.executable, '-c', code, tmp_path/'model', tmp_path/'faces.npy', tmp_path/'p.csv'], check=True)
    there = pd.read_csv(tmp_path/'p.csv')
    assert there.emotion.tolist() == here.emotion.tolist()
    np.testing.assert_allclose(there[list(EMOTIONS)].values, here[list(EMOTIONS)].values, atol=1e-6)

def test_local_torchvision_weights_load_into_body(src, tmp_path):
    "weights=PATH puts the file's tensors in the body, freezes it, and changes the predictions"
    torch.manual_seed(1)
    sd = resnet18(weights=None).state_dict()
    torch.save(sd, tmp_path/'r18.pth')
    torch.manual_seed(0); a = fer_learner(fer_dls(src, bs=16, aug=False), 'resnet18', pretrained=False)
    torch.manual_seed(0); b = fer_learner(fer_dls(src, bs=16, aug=False), 'resnet18', weights=tmp_path/'r18.pth')
    torch.testing.assert_close(b.model[0][0].weight, sd['conv1.weight'])
    torch.testing.assert_close(b.model[0][4][0].conv1.weight, sd['layer1.0.conv1.weight'])
    assert not b.model[0][0].weight.requires_grad and b.model[1][-1].weight.requires_grad
    xb, _ = a.dls.valid.one_batch()
    with torch.no_grad(): assert not torch.allclose(a.model.eval()(xb), b.model.eval()(xb))

def test_wrong_weights_file(src, tmp_path):
    torch.save({'conv1.weight': torch.zeros(3)}, tmp_path/'bad.pth')
    with pytest.raises(WeightsError, match="is not a state dict of torchvision's resnet18"):
        fer_learner(fer_dls(src, bs=16), 'resnet18', weights=tmp_path/'bad.pth')
    with pytest.raises(WeightsError, match='does not exist'):
        fer_learner(fer_dls(src, bs=16), 'resnet18', weights=tmp_path/'missing.pth')

@pytest.mark.parametrize('arch', ['resnet18', 'resnet10t'])
def test_no_network_no_file_fails_with_both_ways_out(src, arch, tmp_path, monkeypatch):
    "torchvision and timm names, nothing cached, no network: a WeightsError naming weights= and the hub"
    if os.environ.get('FER_ONLINE'): pytest.skip('this machine reaches the model hubs')
    monkeypatch.setenv('TORCH_HOME', str(tmp_path/'torch'))     # nothing cached
    monkeypatch.setenv('HF_HOME', str(tmp_path/'hf'))
    with pytest.raises(WeightsError, match=rf"cannot get ImageNet weights for {arch}.*weights='path/to/{arch}.pth'.*hub"):
        fer_learner(fer_dls(src, bs=16), arch, pretrained=True)

def test_load_fer_learner_rejects_other_models(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'): load_fer_learner(tmp_path/'none.pkl')
    (tmp_path/'junk.pkl').write_bytes(b'not a model')
    with pytest.raises(ValueError, match='is not a model exported by fastai'): load_fer_learner(tmp_path/'junk.pkl', trust_pickle=True)
    # a real fastai model of something else: three classes of shapes, not FER's seven emotions
    from PIL import Image
    from fastai.vision.all import ImageDataLoaders, vision_learner
    for i, c in enumerate(['circle', 'square', 'cross']*4):
        (tmp_path/'shapes'/c).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((32, 32, 3), 20*i, np.uint8)).save(tmp_path/'shapes'/c/f'{i}.png')
    dls = ImageDataLoaders.from_folder(tmp_path/'shapes', valid_pct=0.25, seed=0, bs=4)
    other = vision_learner(dls, resnet18, pretrained=False)
    other.export(tmp_path/'other.pkl')
    with pytest.raises(ValueError, match=r"is a fastai model for \['circle', 'cross', 'square'\], not FER's emotions"):
        load_fer_learner(tmp_path/'other.pkl', trust_pickle=True)

def test_lite0_head_knows_a_cat():
    "The offline lite0 weights, mapped to timm's names, call scikit-image's tabby cat a cat"
    import timm
    from skimage import data as skdata
    from fastai.vision.all import PILImage
    m = timm.create_model('tf_efficientnet_lite0', pretrained=True, pretrained_cfg_overlay=dict(file=str(lite0_weights_file())))
    assert set(imagenet_top5(m, PILImage.create(skdata.chelsea()))) & set(range(281, 286))

def test_class_weighted_and_smoothed_loss(src):
    learn = fer_learner(fer_dls(src, bs=16), 'resnet18', pretrained=False, class_weighted=True, label_smoothing=0.1)
    lf = learn.loss_func.func
    assert lf.label_smoothing == 0.1 and lf.weight is not None and len(lf.weight) == 7

def test_hub_offline_when_unreachable(monkeypatch, tmp_path):
    "huggingface.co unreachable: huggingface_hub is in offline mode inside the context (it reads HF_HUB_OFFLINE only at import), and back after"
    import huggingface_hub, huggingface_hub.constants as hc
    import fer_fastai.weights as L
    monkeypatch.setattr(hc, 'HF_HUB_OFFLINE', False)
    monkeypatch.setattr(L, '_online', lambda host, timeout=3.: False)
    with L._hub_offline_if_unreachable():
        assert hc.is_offline_mode()
        with pytest.raises(huggingface_hub.errors.LocalEntryNotFoundError) as e:
            huggingface_hub.hf_hub_download('timm/resnet10t.c3_in1k', 'model.safetensors', cache_dir=tmp_path)
        assert isinstance(e.value.__cause__ or e.value.__context__, huggingface_hub.errors.OfflineModeIsEnabled)   # no network tried
    assert not hc.is_offline_mode()
    monkeypatch.setattr(L, '_online', lambda host, timeout=3.: True)
    with L._hub_offline_if_unreachable(): assert not hc.is_offline_mode()
