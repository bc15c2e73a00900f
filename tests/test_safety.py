"A crafted model.pkl runs no code through any command or loader that takes a model: pickles are refused unless trusted"
import io, os, subprocess, sys
from pathlib import Path
import numpy as np, pytest, torch
from PIL import Image
from fer_fastai.synth import synth_fer, synth_faces

BIN = Path(sys.executable).parent

class Evil:
    "Unpickling it creates the file `marker`: a stand-in for whatever a crafted pickle could run"
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (io.open, (self.marker, 'w'))

@pytest.fixture
def evil(tmp_path):
    pkl, marker = tmp_path/'model.pkl', tmp_path/'pwned'
    torch.save(Evil(str(marker)), pkl)
    return pkl, marker

def test_the_pickle_is_evil(evil):
    "The check below is worth something: unpickled, the file does create the marker"
    pkl, marker = evil
    torch.load(pkl, weights_only=False)
    assert marker.exists()

def test_loaders_refuse_it(evil):
    from fer_fastai.modelfile import load_fer_model, UnsafeModelError
    from fer_fastai.learner import load_fer_learner
    from fer_fastai.inference import load_model
    from fer_fastai.app import fer_app
    from fer_fastai.bench import bench_infer
    pkl, marker = evil
    for f in (load_fer_model, load_fer_learner, load_model, fer_app, lambda p: bench_infer(synth_fer(pkl.parent/'s.csv', n_per_class=2), model=p)):
        with pytest.raises(UnsafeModelError, match='trust_pickle=True'): f(pkl)
        assert not marker.exists(), f

def test_commands_refuse_it(evil, tmp_path):
    pkl, marker = evil
    src = synth_fer(tmp_path/'f.csv', n_per_class=2)
    Image.fromarray(synth_faces([3], size=120)[0]).convert('RGB').save(tmp_path/'face.jpg')
    from fer_fastai.inference import synth_video
    video = synth_video(tmp_path/'v.mp4', np.asarray(Image.open(tmp_path/'face.jpg')), n=2)
    commands = [['fer-evaluate', src, '--model', pkl], ['fer-evaluate', pkl, src], ['fer-predict', tmp_path/'face.jpg', '--model', pkl],
                ['fer-predict', pkl, tmp_path/'face.jpg'], ['fer-video', video, '--model', pkl], ['fer-cam', tmp_path/'face.jpg', '--model', pkl],
                ['fer-interpret', src, '--model', pkl], ['fer-export', pkl], ['fer-app', pkl], ['fer-convert', pkl],
                ['fer-bench', 'infer', '--model', pkl, '--source', src]]
    for cmd in commands:
        r = subprocess.run([str(BIN/cmd[0]), *map(str, cmd[1:])], capture_output=True, text=True, env=os.environ, timeout=300)
        assert r.returncode != 0 and 'Traceback' not in r.stderr and '--trust-pickle' in r.stderr, (cmd, r.stderr[-1500:])
        assert not marker.exists(), cmd
