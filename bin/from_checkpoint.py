"""Finish a `fer-train`/`bin/main` run from before checkpoints (runs since then resume: `fer-train --resume RUN_DIR`) that stopped before writing its model folder (machine restarted, killed): rebuild
its learner, load the epoch `KeepBestEpoch` had kept (RUN_DIR/models/best_unfrozen.pth, weights only), score it on the
validation split and write RUN_DIR as `fer-train` would have (model folder, metrics.json; history.csv from the run's log).
Usage: .venv/bin/python bin/from_checkpoint.py RUN_DIR SOURCE LOG --arch A --size N --bs N --freeze-epochs N --epochs N
         --lr-mult X --lr-frozen X --lr X [--frozen-stem] [--checkpoint best_unfrozen]"""
import argparse, re
from pathlib import Path
import pandas as pd, torch
from fer_fastai.data import fer_dls
from fer_fastai.learner import fer_learner
from fer_fastai.train import write_run

def log_epochs(log) -> pd.DataFrame:
    "fastai's printed epoch tables in a run's log, one row per epoch, each table a stage (frozen first when there are two)"
    text = Path(log).read_text(errors='replace').replace('\r', '\n')
    tables, rows = [], None
    for line in text.splitlines():
        if line.startswith('epoch ') and 'valid_loss' in line: rows = []; tables.append(rows); head = line.split()
        elif rows is not None and re.match(r'^\d+\s+[\d.]+\s+[\d.]+', line): rows.append(line.split())
    stages = ['frozen', 'unfrozen'] if len(tables)==2 else ['unfrozen']*len(tables)
    recs = [dict(stage=s, **{h: (v if h=='time' else float(v)) for h, v in zip(head, r)}) for s, t in zip(stages, tables) for r in t]
    return pd.DataFrame(recs).drop(columns='epoch')

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for a in ('run', 'source', 'log'): p.add_argument(a)
    p.add_argument('--arch', required=True); p.add_argument('--size', type=int, required=True); p.add_argument('--bs', type=int, default=64)
    p.add_argument('--freeze-epochs', type=int, required=True); p.add_argument('--epochs', type=int, required=True)
    p.add_argument('--lr-mult', type=float, required=True); p.add_argument('--lr-frozen', type=float); p.add_argument('--lr', type=float)
    p.add_argument('--frozen-stem', action='store_true'); p.add_argument('--checkpoint', default='best_unfrozen'); p.add_argument('--seed', type=int, default=42)
    a = p.parse_args()
    run = Path(a.run); ck = run/'models'/f'{a.checkpoint}.pth'
    if not ck.exists(): raise SystemExit(f"no checkpoint {ck}: KeepBestEpoch writes models/best_<stage>.pth after each epoch it keeps")
    dls = fer_dls(a.source, bs=a.bs, size=a.size, seed=a.seed)
    learn = fer_learner(dls, a.arch, path=run, frozen_stem=a.frozen_stem)
    learn.model.load_state_dict(torch.load(ck, map_location='cpu', weights_only=True))   # SaveModelCallback saves the bare state dict
    hist = log_epochs(a.log)
    done = len(hist[hist.stage=='unfrozen'])
    metrics = dict(arch=learn.arch_name, size=a.size, bs=a.bs, freeze_epochs=a.freeze_epochs, epochs=a.epochs, lr_mult=a.lr_mult, seed=a.seed,
                   max_per_class=None, pretrained=True, frozen_stem=a.frozen_stem, lrs=dict(frozen=a.lr_frozen, unfrozen=a.lr), keep_se=1.,
                   train_seconds=None, source=str(a.source), n_train=len(dls.train_ds), n_valid=len(dls.valid_ds),
                   stopped=f"after unfrozen epoch {done-1} of {a.epochs} (0-based); weights: {ck.name}, the epoch KeepBestEpoch had kept")
    res = write_run(learn, run, hist, metrics, source=a.source)['valid']
    print(f"{run}: valid accuracy {res['accuracy']:.4f}, macro F1 {res['f1_macro']:.4f}")
