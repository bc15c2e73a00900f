"""Make bin/main's model the shipped one: convert its (trusted, self-made) pickle into a float16 model folder in
fer_fastai/pretrained/fer2013_lite0, score that folder on PublicTest with and without test-time augmentation, and record
the recipe, the command, the epoch table and the scores in its config.json.
Usage: .venv/bin/python bin/ship.py RUN_DIR FER2013_SOURCE "COMMAND"   (RUN_DIR: bin/main's out, with model.pkl or a model folder)"""
import json, sys
from pathlib import Path
import pandas as pd
from fer_fastai.modelfile import convert_model, load_fer_model, save_fer_model, SHIPPED, recipe_of, CONFIG
from fer_fastai.evaluate import evaluate
from fer_fastai.data import fer_test_dl

def brief(r:dict) -> dict:
    "accuracy, macro F1 and each emotion's F1 of an `evaluate` result"
    return dict(n=r['n'], accuracy=round(r['accuracy'], 4), f1_macro=round(r['f1_macro'], 4),
                f1={e: round(v['f1-score'], 4) for e, v in r['per_class'].items()})

if __name__ == '__main__':
    run, src, command = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    m = json.loads((run/'metrics.json').read_text())
    if (run/CONFIG).exists(): save_fer_model(load_fer_model(run, cpu=True), SHIPPED, half=True)
    else: convert_model(run/'model.pkl', SHIPPED, half=True)
    learn = load_fer_model(SHIPPED, cpu=True)                       # the float16 file, as users get it
    dl = fer_test_dl(learn.dls, source=src, split='PublicTest')
    plain, tta = evaluate(learn, dl), evaluate(learn, dl, tta=True)
    hist = pd.read_csv(run/'history.csv')
    recipe = recipe_of(m) | dict(command=command, minutes=round(m['train_seconds']/60, 1) if m.get('train_seconds') else None, epochs_table=hist.round(4).to_dict('records'))
    save_fer_model(learn, SHIPPED, half=True, recipe=recipe, scores={'PublicTest': brief(plain), 'PublicTest_tta': brief(tta)}, source=src)
    (run/'shipped_scores.json').write_text(json.dumps(dict(plain=plain, tta=tta), indent=1))
    print(json.dumps({'PublicTest': brief(plain), 'PublicTest_tta': brief(tta)}, indent=1))
