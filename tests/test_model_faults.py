"""Model folders that fail clearly (issue 30): config.json not JSON, an unknown architecture or size, model.safetensors missing,
cut short or of other shapes: each is an error naming the file, what is wrong and the fix, from the library (both runtimes) and
from every command that takes a model; never a traceback from inside safetensors or timm, never a model with weights left at random"""
import json, shutil
import numpy as np, pytest
from pathlib import Path
from PIL import Image
from fer_fastai.core import SHIPPED, FerError
from fer_fastai.synth import synth_fer
from test_cli import run

def _other_shapes(d):
    from safetensors.numpy import load_file, save_file
    sd = load_file(d/'model.safetensors'); k = [k for k in sd if sd[k].ndim == 4][0]; sd[k] = sd[k][:, :2]; save_file(sd, d/'model.safetensors')

def _missing_tensor(d):
    from safetensors.numpy import load_file, save_file
    sd = load_file(d/'model.safetensors'); sd.pop(sorted(sd)[-1]); save_file(sd, d/'model.safetensors')

def _config(**kw):
    def edit(d):
        cfg = json.loads((d/'config.json').read_text()); cfg.update(kw); (d/'config.json').write_text(json.dumps(cfg))
    return edit

ARCH = json.loads((SHIPPED/'config.json').read_text())['arch']   # the shipped model's (fer_ensemble for an ensemble)

FAULTS = {   # name: (how the folder is broken, what the message says)
    'not_json': (lambda d: (d/'config.json').write_text('{"arch": '), 'config.json is not JSON'),
    'unknown_arch': (_config(arch='resnet_nope'), "names the architecture 'resnet_nope', which neither torchvision nor timm"),
    'bad_size': (_config(size='big'), "gives the input size 'big': expected a whole number of pixels"),
    'no_weights': (lambda d: (d/'model.safetensors').unlink(), 'has no model.safetensors beside its config.json; copy the whole folder'),
    'cut_weights': (lambda d: (d/'model.safetensors').write_bytes((d/'model.safetensors').read_bytes()[:5000]), 'model.safetensors is cut short'),
    'other_shapes': (_other_shapes, f'does not fit {ARCH} as config.json describes it (size mismatch'),
    'missing_tensor': (_missing_tensor, f'does not fit {ARCH} as config.json describes it (Missing key'),
}

@pytest.fixture(scope='module')
def broken(tmp_path_factory):
    root = tmp_path_factory.mktemp('broken')
    for name, (edit, _) in FAULTS.items():
        shutil.copytree(SHIPPED, root/name, ignore=shutil.ignore_patterns('model.onnx')); edit(root/name)
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(root/'face.png')
    synth_fer(root/'fer.csv', n_per_class=2)
    return root

@pytest.mark.parametrize('fault', list(FAULTS))
def test_library_names_the_fault(broken, fault):
    from fer_fastai.inference import load_model
    for rt in ('onnx', 'torch'):
        with pytest.raises(FerError) as e: load_model(broken/fault, runtime=rt)
        assert str(broken/fault) in str(e.value) and FAULTS[fault][1] in str(e.value), (rt, str(e.value))

COMMANDS = {   # each command that takes a model, given one of the faults (every fault through a command, every command once)
    'fer-predict': ('not_json', ['{root}/face.png', '--runtime', 'torch']), 'fer-evaluate': ('unknown_arch', ['{root}/fer.csv']),
    'fer-cam': ('bad_size', ['{root}/face.png', '--out', '{root}/cam.png']), 'fer-interpret': ('no_weights', ['{root}/fer.csv', '--out', '{root}/i']),
    'fer-video': ('cut_weights', ['{root}/none.mp4']), 'fer-export': ('other_shapes', ['--out', '{root}/x.onnx']),
    'fer-app': ('missing_tensor', ['--port', '1']),
}
POSITIONAL = ('fer-export', 'fer-app')   # MODEL is their one argument

@pytest.mark.parametrize('cmd', list(COMMANDS))
def test_commands_name_the_fault(broken, cmd):
    fault, args = COMMANDS[cmd]
    m = [broken/fault] if cmd in POSITIONAL else ['--model', broken/fault]
    r = run(cmd, *[a.format(root=broken) for a in args], *m)
    assert r.returncode == 1 and FAULTS[fault][1] in r.stderr and 'Traceback' not in r.stderr, r.stderr[-1500:]

def test_fer_predict_names_each_fault_under_onnxruntime(broken):
    "The light path checks the folder itself before building a graph"
    for fault, (_, msg) in FAULTS.items():
        r = run('fer-predict', broken/'face.png', '--model', broken/fault)
        assert r.returncode == 1 and msg in r.stderr and 'Traceback' not in r.stderr, (fault, r.stderr[-1500:])
