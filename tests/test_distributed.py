"Data-parallel training over two CPU processes with `accelerate launch` (gloo): sharded batches, rank 0 alone writes"
import json, os, subprocess, sys
from pathlib import Path
import pandas as pd, pytest
from fer_fastai.synth import synth_fer, synth_faces

BIN = Path(sys.executable).parent
# on a machine without GPUs `--cpu` starts one process only; `--multi_gpu` starts torchrun, and `launched` picks gloo
LAUNCH = [str(BIN/'accelerate'), 'launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1',
          '--mixed_precision', 'no', '--dynamo_backend', 'no', '--main_process_port', '0']

def launch(*args, timeout=300):
    "Run `accelerate launch` on two processes; the children see this process's env (PYTHONPATH, FER_CACHE)"
    import fer_fastai
    path = os.pathsep.join([str(Path(fer_fastai.__file__).parent.parent), *filter(None, [os.environ.get('PYTHONPATH')])])
    env = os.environ | dict(OMP_NUM_THREADS='1', PYTHONPATH=path)
    return subprocess.run([*LAUNCH, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)

@pytest.fixture
def src(tmp_path): return synth_fer(tmp_path/'f.csv', n_per_class=20)   # 140 Training, 140 PublicTest faces

def test_fer_train_two_processes(src, tmp_path):
    out = tmp_path/'run'
    r = launch(BIN/'fer-train', src, '--arch', 'resnet18', '--no-pretrained', '--epochs', '1', '--lr', '1e-3', '--bs', '16', '--out', out)
    assert r.returncode == 0, r.stderr[-3000:]
    # each rank trained on half the 140 faces: 70//16 = 4 batches, where one process takes 140//16 = 8
    assert "rank 1 of 2: trained {'unfrozen': 4} batches" in r.stdout
    assert r.stdout.count('valid accuracy') == 1                         # rank 0 alone evaluated and wrote
    files = sorted(p.name for p in out.iterdir() if p.is_file())
    assert files == ['README.md', 'config.json', 'confusion_matrix.png', 'history.csv', 'losses.png', 'metrics.json', 'model.safetensors']
    m = json.loads((out/'metrics.json').read_text())
    assert (m['world_size'], m['rank'], m['batches'], m['n_train'], m['valid']['n']) == (2, 0, {'unfrozen': 4}, 140, 140)
    # the accuracy logged in training gathers both ranks' halves of the valid set; rank 0's evaluate scores all of it
    hist = pd.read_csv(out/'history.csv')
    assert abs(hist.accuracy.iloc[-1] - m['valid']['accuracy']) < 1e-6
    from fer_fastai.learner import load_fer_learner, predict_emotions, evaluate
    from fer_fastai.data import fer_test_dl
    learn = load_fer_learner(out)
    assert not any(n in type(o).__name__ for o in learn.model.modules() for n in ('Sync', 'Distributed'))  # plain model
    assert abs(evaluate(learn, fer_test_dl(learn.dls, src, split='PublicTest'))['accuracy'] - m['valid']['accuracy']) < 1e-6
    df = predict_emotions(learn, list(synth_faces([0, 3, 6], seed=1)))
    assert len(df) == 3 and abs(df.iloc[:, 1:].sum(axis=1) - 1).max() < 1e-4

SCRIPT = """import sys
from fer_fastai.learner import train_fer
learn, m = train_fer(sys.argv[1], out=sys.argv[2], arch='resnet18', pretrained=False, bs=16, epochs=1, num_it=10)
print(f"rank {m['rank']}: lr {m['lrs']['unfrozen']!r}, batches {m['batches']}")
"""

def test_lr_find_on_rank0_shared(src, tmp_path):
    "Without --lr, rank 0 alone runs lr_find (hidden from the other ranks) and sends its rate to every rank"
    (tmp_path/'train.py').write_text(SCRIPT)
    r = launch(tmp_path/'train.py', src, tmp_path/'run')
    assert r.returncode == 0, r.stderr[-3000:]
    lines = sorted(l for l in r.stdout.splitlines() if l.startswith('rank '))
    assert len(lines) == 2 and lines[0].startswith('rank 0: lr ') and lines[1].startswith('rank 1: lr ')
    assert lines[0].split(':', 1)[1] == lines[1].split(':', 1)[1]                     # the same rate, the same 4 batches
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    assert f"rank 0: lr {m['lrs']['unfrozen']!r}, batches {{'unfrozen': 4}}" == lines[0]
    assert (tmp_path/'run'/'lr_find_unfrozen.png').exists()
