"""The members kept in members/ (issue 29): each a finished run that `fer-ship` takes from a fresh clone, all holding back
the same faces, and the shipped ensemble made of them, weight for weight"""
import json, subprocess
from pathlib import Path
import torch

ROOT = Path(__file__).parents[1]
MEMBERS = sorted(p for p in (ROOT/'members').iterdir() if p.is_dir())

def test_members_are_finished_runs_in_git():
    from fer_fastai.train import read_run, RUN_STATE
    tracked = set(subprocess.run(['git', 'ls-files', 'members'], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split())
    assert len(MEMBERS) >= 2
    for m in MEMBERS:
        for f in ('config.json', 'metrics.json', 'history.csv', 'model.safetensors', RUN_STATE):
            assert f'members/{m.name}/{f}' in tracked, f'members/{m.name}/{f} is not committed: a fresh clone could not ship it'
        assert read_run(m).get('finished'), m
        cfg = json.loads((m/'config.json').read_text())
        assert cfg['dtype'] == 'float16' and (m/'model.safetensors').stat().st_size < 12e6, m
    metrics = [json.loads((m/'metrics.json').read_text()) for m in MEMBERS]
    assert {(x['holdout'], x['seed']) for x in metrics} == {(0.05, 42)}   # the same held-back faces: any of them ship together

def test_shipped_ensemble_is_the_kept_members():
    from fer_fastai.core import SHIPPED
    from fer_fastai.modelfile import load_weights, read_config, ENSEMBLE
    cfg = read_config(SHIPPED)
    assert cfg['arch'] == ENSEMBLE and cfg['scores']['PublicTest']['accuracy'] > 0.67   # above the fer_vgg_s it replaced
    w = load_weights(SHIPPED)
    for i, mc in enumerate(cfg['members']):
        kept = ROOT/mc['recipe']['command'].split('--out ')[-1]                       # fer-ship records the run it took
        assert kept.parent == ROOT/'members' and kept.is_dir(), kept
        kw = load_weights(kept)
        mine = {k[len(f'members.{i}.'):]: v for k, v in w.items() if k.startswith(f'members.{i}.')}
        assert set(mine) == set(kw), kept
        assert all(torch.equal(mine[k], kw[k]) for k in kw), kept                     # its temperature is the ensemble's, not in the weights
