import json, os, subprocess, sys
from pathlib import Path
import pytest
from fer_fastai.synth import synth_fer, write_bad_fer

BIN = Path(sys.executable).parent

def run(*args):
    return subprocess.run([str(BIN/args[0]), *map(str, args[1:])], capture_output=True, text=True, env=os.environ)

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
