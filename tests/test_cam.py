import numpy as np, pytest, torch
import pytorch_grad_cam as pgc   # its GradCAM and GradCAMPlusPlus are the reference; ours have the same names
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from fer_fastai.cam import *
from fer_fastai.data import fer_dls
from fer_fastai.learner import fer_learner
from fer_fastai.synth import synth_fer

@pytest.fixture(scope='module')
def src(tmp_path_factory): return synth_fer(tmp_path_factory.mktemp('cam')/'f.csv', n_per_class=3)

@pytest.mark.parametrize('arch', ['resnet18', 'efficientnet_lite0'])
@pytest.mark.parametrize('method', ['gradcam', 'gradcam++'])
def test_matches_pytorch_grad_cam(src, arch, method):
    "Same model, layer, input and class: our maps equal the reference package's"
    learn = fer_learner(fer_dls(src, bs=6, aug=False, size=64), arch, pretrained=arch!='resnet18')
    xb, _ = learn.dls.valid.one_batch()
    Ref = {'gradcam': pgc.GradCAM, 'gradcam++': pgc.GradCAMPlusPlus}[method]
    with Ref(model=learn.model.eval(), target_layers=[default_layer(learn)]) as ref:
        theirs = ref(input_tensor=xb.as_subclass(torch.Tensor), targets=[ClassifierOutputTarget(5)]*len(xb))
    ours = cam_upsample(grad_cam(learn, xb, target=5, method=method)[0], (64, 64)).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-3)

def test_hooks_removed_even_on_error(src):
    learn = fer_learner(fer_dls(src, bs=4, aug=False), 'resnet18', pretrained=False)
    xb, _ = learn.dls.valid.one_batch()
    before = n_hooks(learn.model)
    with pytest.raises(RuntimeError): grad_cam(learn, xb, target=99)    # no class 99
    assert n_hooks(learn.model) == before
    grad_cam(learn, xb); grad_cam(learn, xb, method='gradcam++')
    assert n_hooks(learn.model) == before

def test_map_mass_where_the_signal_is(tmp_path):
    "Trained on faces whose only signal is in the top-left corner, Grad-CAM (resnet18's layer2, 96 px) puts most of its mass there"
    spot = synth_fer(tmp_path/'spot.csv', n_per_class=30, spot=True, noise=0.15)
    learn = fer_learner(fer_dls(spot, bs=32, aug=False, size=96, seed=42), 'resnet18', pretrained=False)   # seeded; ten seeds: see DEVELOPERS.md
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(5, 3e-3)
    xb, yb = learn.dls.valid.one_batch()
    maps = cam_upsample(grad_cam(learn, xb, target=yb, layer=learn.model[0][5])[0], (96, 96))
    mass = maps.sum((1, 2))
    assert (mass > 0).float().mean() >= 0.75, mass    # an all-zero map has no evidence to place (ten seeds: 0.875-1)
    share = (maps[:, :48, :48].sum((1, 2))[mass > 0]/mass[mass > 0]).mean()
    assert share > 0.35, share                        # a quarter of the image: 0.25 by chance (ten seeds: 0.47-0.69)
