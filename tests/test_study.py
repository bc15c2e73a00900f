"""The FER2013 tutorial's GPU branch, rehearsed: `study` with the GPU recipe's architectures and stages, pretrained=True
through torchvision's and timm's own download code, reading weight files placed under their real names in temporary
hub caches (random values: no network here), on 56 real faces a split (synthetic when FER2013 is absent), at 32 px."""
import json
from pathlib import Path
import pytest, torch, torchvision, timm
from fer_fastai.core import default_fer_path
from fer_fastai.data import read_fer, fer_subset
from fer_fastai.study import study, GPU_STUDY
from fer_fastai.synth import synth_fer

def _torchvision_file(arch, home:Path) -> dict:
    "A random state dict of torchvision's `arch` where torch.hub looks for its default ImageNet weights"
    url = torchvision.models.get_model_weights(arch).DEFAULT.url
    sd = getattr(torchvision.models, arch)().state_dict()
    (home/'hub'/'checkpoints').mkdir(parents=True, exist_ok=True)
    torch.save(sd, home/'hub'/'checkpoints'/url.rsplit('/', 1)[1])
    return sd

def _timm_file(arch, cache:Path) -> dict:
    "A random state dict of timm's `arch` as model.safetensors of its default tag's repository, in a Hugging Face cache"
    from safetensors.torch import save_file
    repo = timm.models.get_pretrained_cfg(arch).hf_hub_id
    sd = timm.create_model(arch).state_dict()
    folder = cache/f"models--{repo.replace('/', '--')}"
    rev = '0'*40
    (folder/'snapshots'/rev).mkdir(parents=True)
    (folder/'refs').mkdir()
    (folder/'refs'/'main').write_text(rev)
    save_file({k: v.contiguous() for k, v in sd.items()}, folder/'snapshots'/rev/'model.safetensors')
    return sd

def test_gpu_study_rehearsed(tmp_path, monkeypatch):
    import huggingface_hub.constants as hc
    archs = GPU_STUDY['archs']
    assert archs == ('vgg19_bn', 'resnet34', 'convnext_tiny')
    monkeypatch.setenv('TORCH_HOME', str(tmp_path/'torch'))
    monkeypatch.setattr(hc, 'HF_HUB_CACHE', str(tmp_path/'hf'))      # huggingface_hub reads HF_HOME once, at import
    monkeypatch.setattr(hc, 'HF_HUB_OFFLINE', True)                 # as on a machine without the hub: the cache alone
    sds = {a: _torchvision_file(a, tmp_path/'torch') for a in archs[:2]} | {archs[2]: _timm_file(archs[2], tmp_path/'hf')}
    fer = default_fer_path()
    data = read_fer(fer) if fer.exists() else read_fer(synth_fer(tmp_path/'synth.csv', n_per_class=30))
    small = fer_subset(data, 8)                                     # 56 faces a split: one batch an epoch
    # rates given: lr_find (fastai's, the same on any device) was three quarters of this test's time on the CPU, and runs in
    # 02c_train's and 04a_study's tests. The GPU recipe's nets, weights and stages, at the smallest input each runs at (32 px:
    # vgg19_bn's five poolings, resnet34's and convnext_tiny's stride of 32 leave a 1x1 map) and a batch of 32: 96 px and
    # batches of 128 (what Colab runs) are nine times the work and test nothing more on a CPU
    table, learners = study(small, out=tmp_path/'study', **(GPU_STUDY | dict(size=32, bs=32, freeze_epochs=1, epochs=1)), lr_frozen=1e-3, lr=1e-3)
    assert list(table.index) == list(archs) and (table.minutes > 0).all()
    assert (table.lr_frozen == 1e-3).all() and (table.lr == 1e-3).all()
    for a in archs:
        out = tmp_path/'study'/a
        assert {'config.json', 'model.safetensors', 'history.csv', 'metrics.json', 'cam_grid.png', 'confusion_matrix.png'} <= {p.name for p in out.iterdir()}
        m = json.loads((out/'metrics.json').read_text())
        assert (m['size'], m['bs'], m['freeze_epochs'], m['lr_mult']) == (32, 32, 1, GPU_STUDY['lr_mult']) and m['pretrained'] and m['n_train'] == 56
    # the bodies started from the files placed in the caches: one step at the body's low rate has barely moved the first
    # convolution from them (a random initialisation is 0.1 away)
    for a, key in zip(archs, ('features.0.weight', 'conv1.weight', 'stem.0.weight')):
        w = next(m for m in learners[a].model[0].modules() if isinstance(m, torch.nn.Conv2d)).weight.detach().cpu()
        torch.testing.assert_close(w, sds[a][key], atol=2e-3, rtol=0)
