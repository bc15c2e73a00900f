"""Training that survives a disconnect: `fer-train` is killed (SIGKILL, nothing to clean up) in the frozen stage, in the unfrozen
stage and during lr_find, then `fer-train --resume DIR` finishes the run: every epoch once in the history, the learning rate of the
first step after each resume equal to the uninterrupted run's at that step, and the model written"""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import numpy as np, pandas as pd, pytest
from fer_fastai.synth import synth_fer

BIN = Path(sys.executable).parent
RECIPE = ['--arch', 'efficientnet_lite0', '--size', '32', '--bs', '16', '--freeze-epochs', '2', '--epochs', '3',   # 32 px: a quarter of 64 px's work, the same stages and checkpoints
          '--lr-frozen', '2e-3', '--lr', '2e-3', '--lr-mult', '10']

def state(out:Path) -> dict:
    try: return json.loads((out/'models'/'checkpoint.json').read_text())
    except (FileNotFoundError, json.JSONDecodeError): return {}

def kill_when(args, out:Path, ready, timeout=600) -> dict:
    "Start fer-train with `args`, SIGKILL it as soon as `ready(state)` holds, return the state it left"
    p = subprocess.Popen([str(BIN/'fer-train'), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t0 = time.time()
    try:
        while not ready(state(out)):
            assert p.poll() is None, f"fer-train ended before the point to kill it at: {p.stdout.read()[-3000:]}"
            assert time.time() - t0 < timeout, 'timed out'
            time.sleep(0.05)
    finally:
        p.send_signal(signal.SIGKILL); p.wait()
    return state(out)

def finish(args) -> str:
    r = subprocess.run([str(BIN/'fer-train'), *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout

def done(st, stage): return st.get('stages', {}).get(stage, {}).get('done', 0)

@pytest.fixture(scope='module')
def src(tmp_path_factory): return synth_fer(tmp_path_factory.mktemp('resume')/'fer.csv', n_per_class=30)

def test_killed_in_each_stage_then_resumed(src, tmp_path):
    ref, out = tmp_path/'whole', tmp_path/'killed'
    finish([src, *RECIPE, '--out', ref])
    st = kill_when([src, *RECIPE, '--out', out], out, lambda s: done(s, 'frozen') >= 1)
    assert done(st, 'frozen') == 1 and done(st, 'unfrozen') == 0, st.get('stages')   # killed in the frozen stage
    r = subprocess.run([str(BIN/'fer-train'), src, *RECIPE, '--out', out], capture_output=True, text=True)   # a fresh start would lose it
    assert r.returncode == 1 and f'fer-train --resume {out}' in r.stderr and 'stopped after frozen epoch 1 of 2' in r.stderr, r.stderr[-2000:]
    st = kill_when(['--resume', out], out, lambda s: done(s, 'unfrozen') >= 1)
    assert done(st, 'frozen') == 2 and done(st, 'unfrozen') == 1, st.get('stages')   # killed in the unfrozen stage
    assert 'wrote' in finish(['--resume', out])
    h, w = pd.read_csv(out/'history.csv'), pd.read_csv(ref/'history.csv')
    assert list(zip(h.stage, h.epoch)) == [('frozen', 0), ('frozen', 1), ('unfrozen', 0), ('unfrozen', 1), ('unfrozen', 2)]
    np.testing.assert_allclose(h.lr.values, w.lr.values, rtol=1e-9)   # each epoch's first step, the resumed ones included
    m = json.loads((out/'metrics.json').read_text())
    assert m['resumed'] and m['valid']['n'] == 210 and (out/'model.safetensors').is_file()
    secs = h.time.map(lambda t: sum(int(p)*60**k for k, p in enumerate(reversed(t.split(':'))))).sum()
    assert m['train_seconds'] >= secs   # the time counts the epochs of the killed processes too, not just the last one's
    assert not (out/'models'/'checkpoint.pth').exists() and state(out)['finished']
    assert subprocess.run([str(BIN/'fer-train'), '--resume', out], capture_output=True, text=True).returncode == 1   # finished: nothing to resume

def test_killed_in_lr_find_then_resumed(src, tmp_path):
    out = tmp_path/'lr_find'
    args = [src, '--arch', 'resnet18', '--no-pretrained', '--bs', '16', '--epochs', '2', '--out', out]
    st = kill_when(args, out, lambda s: bool(s) and time.sleep(1.5) is None)   # the state is written as the run starts, before lr_find
    assert not (out/'lr_find_unfrozen.png').exists() and done(st, 'unfrozen') == 0
    finish(['--resume', out])
    h = pd.read_csv(out/'history.csv')
    assert list(zip(h.stage, h.epoch)) == [('unfrozen', 0), ('unfrozen', 1)] and (out/'lr_find_unfrozen.png').exists()
    assert (out/'model.safetensors').is_file()
