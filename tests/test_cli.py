import json, os, subprocess, sys
from pathlib import Path
import numpy as np, pytest
from fer_fastai.synth import synth_fer, synth_faces, write_fer_csv
from fer_fastai.faults import write_bad_fer
from conftest import BIN, run   # noqa: F401 (run: other test modules import it from here)

def test_fer_data_table(tmp_path):
    r = run('fer-data', synth_fer(tmp_path/'f.csv.gz', n_per_class=3))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith('FerData: 42 faces (48, 48)')
    train = next(l for l in lines if l.startswith('Training')).split()
    assert train[1:] == ['3']*7 + ['21']

def test_fer_data_bad_row_exit_code(tmp_path):
    f, row = write_bad_fer(tmp_path)['over_255']
    r = run('fer-data', f)
    assert r.returncode == 1
    assert f'row {row} (line {row+2}) of over_255.csv has pixel 0 = 256, expected an integer 0-255' in r.stderr
    assert 'Traceback' not in r.stderr
    r = run('fer-data', f, '--skip-bad')
    assert r.returncode == 0 and 'skipped: row 6' in r.stdout

def test_fer_data_real(real_path):
    r = run('fer-data', real_path)
    assert r.returncode == 0, r.stderr
    assert 'Training     3995      436  4097   7215  4830      3169     4965  28707' in r.stdout

def test_fer_train_without_source_explains(tmp_path):
    r = run('fer-train')
    assert r.returncode == 1 and 'kaggle datasets download' in r.stdout and 'icml_face_data.csv' in r.stdout

def test_fer_evaluate_errors(tmp_path):
    src = synth_fer(tmp_path/'f.csv', n_per_class=2)
    r = run('fer-evaluate', src, '--model', tmp_path/'none')
    assert r.returncode == 1 and 'does not exist' in r.stderr and 'Traceback' not in r.stderr
    (tmp_path/'junk.pkl').write_bytes(b'junk')
    r = run('fer-evaluate', src, '--model', tmp_path/'junk.pkl')
    assert r.returncode == 1 and 'is a pickle' in r.stderr and '--trust-pickle' in r.stderr and 'Traceback' not in r.stderr
    r = run('fer-evaluate', src, '--model', tmp_path/'junk.pkl', '--trust-pickle')
    assert r.returncode == 1 and 'is not a model exported by fastai' in r.stderr

def test_fer_train_then_evaluate(small_run, tmp_path):
    "The commands end to end on synthetic faces (the run's one fer-train, `small_run`): the folder has what it should, evaluate agrees with train"
    src, run_ = small_run
    files = sorted(p.name for p in run_.iterdir() if p.is_file())
    assert files == ['README.md', 'config.json', 'confusion_matrix.png', 'history.csv', 'losses.png', 'metrics.json', 'model.safetensors']
    m = json.loads((run_/'metrics.json').read_text())
    kept = m['kept']['unfrozen']   # one epoch: it is the one kept, its loss and standard error recorded
    assert m['keep_se'] == 1.0 and kept['epoch'] == 0 and len(kept['valid_loss']) == 1 and kept['se'][0] > 0
    r = run('fer-evaluate', src, '--model', run_, '--split', 'PublicTest', '--json-out', tmp_path/'ev.json')
    assert r.returncode == 0, r.stderr[-2000:]
    ev = json.loads((tmp_path/'ev.json').read_text())
    assert ev['n'] == 56 and abs(ev['accuracy'] - m['valid']['accuracy']) < 1e-6
    r = run('fer-evaluate', run_, synth_fer(tmp_path/'g.csv', n_per_class=2), '--split', 'PrivateTest')   # MODEL first, the older form
    assert r.returncode == 1 and 'has no PrivateTest rows' in r.stderr

def test_fer_cam_writes_pngs(small_run, tmp_path):
    """fer-cam draws a FER source's per-emotion grid and one photo's seven maps: the very figures cam_grid and cam_emotions draw
    for that model (pixel for pixel), Grad-CAM++ when asked (not the same maps)"""
    import matplotlib; matplotlib.use('Agg')
    from PIL import Image
    from fer_fastai.synth import synth_faces
    from fer_fastai.data import read_fer, to_face
    from fer_fastai.learner import load_fer_learner
    from fer_fastai.cam import cam_emotions, cam_grid
    src, model = small_run
    learn = load_fer_learner(model)
    px = lambda f: np.asarray(Image.open(f).convert('RGB'))
    r = run('fer-cam', src, '--model', model, '--out', tmp_path/'grid.png')
    assert r.returncode == 0, r.stderr[-2000:]
    cam_grid(learn, read_fer(src), split='PublicTest', fname=tmp_path/'grid_lib.png')
    np.testing.assert_array_equal(px(tmp_path/'grid.png'), px(tmp_path/'grid_lib.png'))
    Image.fromarray(synth_faces([3], size=120)[0]).convert('RGB').save(tmp_path/'face.jpg')
    for pp, flags in ((False, []), (True, ['--plus-plus']), ('cam', ['--method', 'gradcam++'])):
        r = run('fer-cam', tmp_path/'face.jpg', '--model', model, '--out', tmp_path/f'one{pp}.png', *flags)
        assert r.returncode == 0, r.stderr[-2000:]
        cam_emotions(learn, to_face(tmp_path/'face.jpg'), method='gradcam' if pp is False else 'gradcam++', fname=tmp_path/f'one_lib{pp}.png')
        np.testing.assert_array_equal(px(tmp_path/f'one{pp}.png'), px(tmp_path/f'one_lib{pp}.png'))
    assert (px(tmp_path/'oneTrue.png') != px(tmp_path/'oneFalse.png')).any()
    np.testing.assert_array_equal(px(tmp_path/'oneTrue.png'), px(tmp_path/'onecam.png'))   # --plus-plus is --method gradcam++
    r = run('fer-cam', tmp_path/'face.jpg', '--model', model, '--method', 'score-cam')
    assert r.returncode == 1 and 'unknown CAM method' in r.stderr
    r = run('fer-cam', tmp_path/'missing.jpg', '--model', model)
    assert r.returncode == 1 and 'does not exist' in r.stderr

def test_fer_interpret_writes_analysis(small_run, tmp_path):
    "fer-interpret on a split of a source: the files, counts that add up, top-loss rows that lead back to the source"
    from fer_fastai.data import read_fer
    from fer_fastai.core import EMOTIONS
    src, model = small_run
    r = run('fer-interpret', src, '--model', model, '--split', 'PrivateTest', '--k', '5', '--out', tmp_path/'int')
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path/'int').iterdir()) == ['confusion_matrix.png', 'interpretation.json', 'per_class.csv', 'top_losses.png']
    res = json.loads((tmp_path/'int'/'interpretation.json').read_text())
    d = read_fer(src)
    assert res['n'] == 56 and sum(map(sum, res['confusion'])) == 56
    assert sum(m['count'] for m in res['most_confused']) == 56 - sum(res['confusion'][i][i] for i in range(7))
    assert len(res['top_losses']) == 5
    for t in res['top_losses']: assert d.usage[t['row']] == 'PrivateTest' and EMOTIONS[d.y[t['row']]] == t['actual']
    assert f"accuracy {res['accuracy']:.4f}" in r.stdout
    r = run('fer-interpret', synth_fer(tmp_path/'g.csv', n_per_class=2), '--model', model, '--split', 'PrivateTest')
    assert r.returncode == 1 and 'has no PrivateTest rows' in r.stderr and 'Traceback' not in r.stderr

def test_fer_train_frozen_stem(tmp_path):
    "--frozen-stem: the stem leaves training with exactly its ImageNet weights, the layers after it have learnt"
    import torch
    from fer_fastai.learner import load_fer_learner, lite0_state_dict
    src = synth_fer(tmp_path/'f.csv', n_per_class=4)
    r = run('fer-train', src, '--arch', 'efficientnet_lite0', '--size', '64', '--epochs', '1', '--lr-frozen', '1e-3', '--lr', '1e-3',
            '--bs', '16', '--frozen-stem', '--out', tmp_path/'run')
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((tmp_path/'run'/'metrics.json').read_text())['frozen_stem'] is True
    body, sd = load_fer_learner(tmp_path/'run').model[0].model.state_dict(), lite0_state_dict()
    for k in ('conv_stem.weight', 'bn1.weight', 'blocks.1.1.conv_dw.weight', 'blocks.1.1.bn3.bias'): assert torch.equal(body[k], sd[k]), k
    for k in ('blocks.2.0.conv_dw.weight', 'blocks.3.0.conv_pw.weight', 'conv_head.weight'): assert not torch.equal(body[k], sd[k]), k
    r = run('fer-train', src, '--no-pretrained', '--frozen-stem', '--out', tmp_path/'x')
    assert r.returncode == 1 and 'cannot go with pretrained=False (--no-pretrained)' in r.stderr and 'Traceback' not in r.stderr
    r = run('fer-train', '--resume', tmp_path/'run', '--epochs', '3', '--lr', '1e-3')   # a resumed run keeps its own settings
    assert r.returncode == 1 and "leave out --epochs --lr" in r.stderr and 'Traceback' not in r.stderr

def test_fer_train_relative_out(tmp_path):
    "fer-train run from a folder with a relative --out writes everything under that folder, once (not out/out)"
    src = synth_fer(tmp_path/'f.csv', n_per_class=3)
    r = subprocess.run([str(BIN/'fer-train'), 'f.csv', '--arch', 'resnet18', '--no-pretrained', '--epochs', '1', '--lr', '1e-3',
                        '--bs', '16', '--out', 'runs/x'], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path/'runs'/'x'/'model.safetensors').is_file() and (tmp_path/'runs'/'x'/'metrics.json').is_file()
    assert not (tmp_path/'runs'/'x'/'runs').exists()
    assert 'wrote runs/x/' in r.stdout

def test_fer_train_refuses_what_cannot_train(tmp_path):
    "--bs 0, --size 0, --epochs -1 and a source with fewer faces than a batch stop before training, with a message, exit code 1"
    src = synth_fer(tmp_path/'f.csv', n_per_class=2)
    for args, msg in ((['--bs', '0'], 'bs=0 cannot train'), (['--size', '0'], 'size=0 cannot train'), (['--epochs', '-1'], 'epochs=-1 cannot train'),
                      (['--bs', '64'], '14 training faces in'), ):
        r = run('fer-train', src, '--arch', 'resnet18', '--no-pretrained', '--out', tmp_path/'run', *args)
        assert r.returncode == 1 and msg in r.stderr and 'Traceback' not in r.stderr, (args, r.stderr[-1500:])
    one = write_fer_csv(tmp_path/'happy_only.csv', synth_faces([3]*40), [3]*40, ['Training']*20 + ['PublicTest']*20)
    r = run('fer-train', one, '--arch', 'resnet18', '--no-pretrained', '--bs', '8', '--out', tmp_path/'run')
    assert r.returncode == 1 and 'are all Happy: a classifier needs two emotions or more' in r.stderr and 'Traceback' not in r.stderr, r.stderr[-1500:]
    assert not (tmp_path/'run'/'model.safetensors').exists()

def test_fer_ship_and_evaluate_with_calibration(small_run, tmp_path):
    """fer-train with --holdout, then fer-ship: a float16 folder whose config holds the temperature and the scores that fer-evaluate
    gives it (plain and flip TTA), and ECE in fer-evaluate's JSON; a run without held-back faces is refused with the fix"""
    src = synth_fer(tmp_path/'f.csv', n_per_class=12)
    r = run('fer-train', src, '--arch', 'fer_vgg_s', '--no-pretrained', '--epochs', '2', '--lr', '3e-3', '--bs', '16', '--holdout', '0.1',
            '--precision', 'bf16', '--mixup', '0.2', '--erase', '0.3', '--out', tmp_path/'run')
    assert r.returncode == 0, r.stderr[-2000:]
    # output to a pipe: no progress-bar frames, the epoch table one line an epoch
    assert '\r' not in r.stdout + r.stderr and '█' not in r.stdout + r.stderr, r.stdout[:500]
    epochs = [l.split()[0] for l in r.stdout.splitlines() if l[:1].isdigit()]
    assert epochs == ['0', '1'], r.stdout
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    assert (m['holdout'], m['precision'], m['mixup'], m['erase']) == (0.1, 'bf16', 0.2, 0.3)
    assert m['n_train'] == 84 - round(0.1*84)                        # 12 faces x 7 emotions, less the held-back tenth
    r = run('fer-ship', tmp_path/'run', '--out', tmp_path/'shipped')
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = json.loads((tmp_path/'shipped'/'config.json').read_text())
    assert cfg['dtype'] == 'float16' and cfg['calibration']['temperature'] > 0 and 'temperature' in r.stdout
    for tta, key in ((None, 'PublicTest'), ('flip', 'PublicTest_flip')):
        r = run('fer-evaluate', src, '--model', tmp_path/'shipped', *(['--tta', tta] if tta else []), '--json-out', tmp_path/'ev.json')
        assert r.returncode == 0, r.stderr[-2000:]
        ev = json.loads((tmp_path/'ev.json').read_text())
        assert abs(ev['accuracy'] - cfg['scores'][key]['accuracy']) < 1e-4 and abs(ev['ece'] - cfg['scores'][key]['ece']) < 1e-4
        if not tta:   # before and after calibration, in the output and the JSON
            assert abs(ev['ece_uncalibrated'] - cfg['scores'][key]['ece_uncalibrated']) < 1e-4 and 'without its temperature' in r.stdout
        assert 'calibration error (ECE, 15 bins)' in r.stdout and '\r' not in r.stdout + r.stderr and '█' not in r.stdout + r.stderr
    r = run('fer-evaluate', src, '--model', tmp_path/'shipped', '--tta')   # fastai's own TTA, piped: no bar frame, no stray epoch header
    assert r.returncode == 0 and '(TTA: fastai)' in r.stdout and '█' not in r.stdout + r.stderr and 'train_loss' not in r.stdout, r.stdout[:800]
    r = run('fer-ship', small_run[1], '--out', tmp_path/'x')   # a run of all of Training
    assert r.returncode == 1 and '--holdout 0.05' in r.stderr and 'Traceback' not in r.stderr
