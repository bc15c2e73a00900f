import atexit, gzip, os, re, shutil, tempfile, warnings
from pathlib import Path
from PIL import Image
import numpy as np, pandas as pd, pytest, torch
from fer_fastai.core import EMOTIONS, USAGES
from fer_fastai.data import *
from fer_fastai.synth import *
from fer_fastai.faults import *
from fer_fastai.bench import peak_mb

# The class counts of the shared file, from its README
README_COUNTS = {'Training':   [3995, 436, 4097, 7215, 4830, 3169, 4965],
                 'PublicTest': [467, 56, 496, 895, 653, 415, 607]}

def test_real_counts(real):
    assert real.x.shape == (28707+3589, 48, 48) and real.x.dtype == np.uint8
    c = real.counts()
    for split, counts in README_COUNTS.items(): assert c.loc[split].tolist() == counts
    assert len(real.skipped) == 0

def test_real_pixels_match_pandas(real, real_path):
    "The fast parse equals the obvious one on the file's first and last rows"
    df = pd.read_csv(real_path)
    for rows in (slice(0, 300), slice(-300, None)):
        x = np.stack([np.array(p.split(), np.uint8) for p in df.pixels.values[rows]]).reshape(-1, 48, 48)
        np.testing.assert_array_equal(real.x[rows], x)
        np.testing.assert_array_equal(real.y[rows], df.emotion.values[rows])
        np.testing.assert_array_equal(real.usage[rows], df.Usage.values[rows])

def test_real_parse_memory(real_path):
    "Parsing the whole file allocates well under 1.5 GB at its peak"
    peak = peak_mb(read_fer, real_path, cache=False)
    assert 74 < peak < 1500, peak   # at least the 74 MB of faces it returns

def test_real_dls(real):
    dls = fer_dls(real, bs=64)
    assert (len(dls.train_ds), len(dls.valid_ds)) == (28707, 3589)
    xb, yb = dls.one_batch()
    assert xb.shape == (64, 3, 48, 48) and yb.shape == (64,)
    assert np.bincount(real.y[np.asarray(dls.valid.items)], minlength=7).tolist() == README_COUNTS['PublicTest']
    w = class_weights(real)
    assert w.argmax() == EMOTIONS.index('Disgust') and w.argmin() == EMOTIONS.index('Happy')

@pytest.mark.parametrize('gz', [False, True])
def test_random_spacing_and_values(tmp_path, gz):
    "Any 0-255 values, with runs of spaces and spaces at the ends of the field, parse as str.split reads them"
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (50, 48*48))
    lines = ['emotion,pixels,Usage']
    for i,f in enumerate(faces):
        seps = rng.choice([' ', '  ', '   '], size=len(f)-1, p=[.8, .15, .05])
        pix = ''.join(str(v)+s for v,s in zip(f[:-1], seps)) + str(f[-1])
        lines.append(f"{i%7},{' '*(i%3)}{pix}{' '*(i%2)},{USAGES[i%3]}")
    data = ('\n'.join(lines)+'\n').encode()
    p = tmp_path/('f.csv.gz' if gz else 'f.csv')
    p.write_bytes(gzip.compress(data) if gz else data)
    d = read_fer(p)
    np.testing.assert_array_equal(d.x.reshape(50, -1), faces.astype(np.uint8))
    np.testing.assert_array_equal(d.y, np.arange(50) % 7)
    assert d.usage.tolist() == [USAGES[i%3] for i in range(50)]

def test_many_chunks_keep_order_and_row_numbers(tmp_path):
    "A file bigger than one read chunk keeps row order, and a bad row far in is named by its row"
    labels = np.arange(1500) % 7
    faces = synth_faces(labels, seed=3)
    p = write_fer_csv(tmp_path/'big.csv', faces, labels, ['Training']*1500)
    d = read_fer(p, cache=False)
    np.testing.assert_array_equal(d.x, faces)
    lines = p.read_text().splitlines()
    lines[1234+1] = lines[1234+1].replace(',', ',300 ', 1)
    p.write_text('\n'.join(lines)+'\n')
    with pytest.raises(FerError, match=r'row 1234 \(line 1236\) of big.csv has 2305 pixel values'): read_fer(p)
    with warnings.catch_warnings(record=True): d = read_fer(p, on_bad='skip')
    assert d.skipped.row.tolist() == [1234] and len(d) == 1499
    np.testing.assert_array_equal(d.x, np.delete(faces, 1234, axis=0))

@pytest.mark.parametrize('fault', ['short_row', 'long_row', 'non_numeric', 'over_255', 'bad_label', 'bad_usage'])
def test_bad_rows_counted(tmp_path, fault):
    "rows in = rows kept + rows reported, for every kind of bad row"
    f, row = write_bad_fer(tmp_path)[fault]
    with pytest.raises(FerError, match=rf'row {row} \(line {row+2}\) of {f.name}'): read_fer(f)
    with warnings.catch_warnings(record=True) as w: d = read_fer(f, on_bad='skip')
    assert len(d) + len(d.skipped) == 28 and d.skipped.row.tolist() == [row]
    assert any('skipped 1 bad rows' in str(o.message) for o in w)

def test_folder_release(tmp_path):
    folder = synth_fer(tmp_path/'imgs', n_per_class=3, kind='folder')
    d = read_fer(folder)
    assert d.counts().loc['Training'].tolist() == [3]*7 and d.counts().loc['PublicTest'].tolist() == [3]*7
    # the folder images are the same faces the CSV would hold
    csv = read_fer(synth_fer(tmp_path/'f.csv', n_per_class=3))
    np.testing.assert_array_equal(np.sort(d.x.reshape(len(d), -1), axis=0), np.sort(csv.x.reshape(len(csv), -1), axis=0))

def test_cache_invalidated_by_edit(tmp_path):
    p = synth_fer(tmp_path/'f.csv', n_per_class=2)
    d1 = read_fer(p)
    p.write_text(p.read_text().replace('\n1,', '\n2,', 1))
    d2 = read_fer(p)
    assert (d2.y == 2).sum() == (d1.y == 2).sum() + 1

def test_privatetest_dl(tmp_path):
    p = synth_fer(tmp_path/'f.csv', n_per_class=4, splits=('Training', 'PublicTest', 'PrivateTest'))
    dls = fer_dls(p, bs=8)
    tdl = fer_test_dl(dls)
    assert len(tdl.dataset) == 28
    xb, yb = tdl.one_batch()
    assert xb.shape == (8, 3, 48, 48)
    assert sorted(np.asarray(tdl.items).tolist()) == dls.fer.idxs('PrivateTest').tolist()
    with pytest.raises(FerError, match='has no PrivateTest rows'): fer_test_dl(fer_dls(synth_fer(tmp_path/'g.csv', n_per_class=2), bs=4))

def test_valid_pct_when_only_training(tmp_path):
    p = synth_fer(tmp_path/'f.csv', n_per_class=10, splits=('Training',))
    a, b = fer_dls(p, bs=8, seed=1), fer_dls(p, bs=8, seed=1)
    assert len(a.valid_ds) == 14 and len(a.train_ds) == 56
    assert np.asarray(a.valid.items).tolist() == np.asarray(b.valid.items).tolist()
    assert torch.equal(a.train.one_batch()[1], b.train.one_batch()[1])   # seeded shuffles

def test_resize_and_stats(tmp_path):
    p = synth_fer(tmp_path/'f.csv', n_per_class=2)
    dls = fer_dls(p, bs=4, size=96, stats=([0.5]*3, [0.25]*3), aug=False)
    xb, _ = dls.valid.one_batch()
    assert xb.shape == (4, 3, 96, 96)
    raw = torch.from_numpy(dls.fer.x[np.asarray(dls.valid.items)[:4]]).float()/255
    assert torch.allclose(xb[:, 0].mean((1, 2)), (raw.mean((1, 2)) - 0.5)/0.25, atol=0.02)

# Every kind of source users bring (synth.write_fer_cases): it reads, every face kept or reported, or it stops
# with an error that names the file and the fix, in the library and in `fer-data`.
_CASES_DIR = tempfile.mkdtemp(prefix='fer_cases_')   # written at collection (the names parametrize the tests), removed at exit
atexit.register(shutil.rmtree, _CASES_DIR, ignore_errors=True)
CASES = write_fer_cases(Path(_CASES_DIR))

def _faces(x, y, usage, ordered:bool):
    rows = list(zip(y.tolist(), usage.tolist(), [f.tobytes() for f in x]))
    return rows if ordered else sorted(rows)   # a folder's order is its files' order, not the order they were written in

@pytest.mark.parametrize('name', list(CASES))
def test_source_reads_or_names_the_fix(name):
    c = CASES[name]
    if c.error:
        with pytest.raises(FerError) as e: read_fer(c.path, cache=False)
        assert c.error in str(e.value) and c.path.name in str(e.value), str(e.value)
    if c.x is None:   # nothing of it can be read: on_bad='skip' stops too
        with pytest.raises(FerError, match=re.escape(c.error)): read_fer(c.path, on_bad='skip', cache=False)
        return
    with warnings.catch_warnings(record=True): d = read_fer(c.path, on_bad='skip', cache=False)
    # rows (or files) in = kept + skipped + ignored, with what was kept equal to what was written
    assert (len(d), len(d.skipped), len(d.ignored)) == (len(c.x), c.skipped, c.ignored), (d.skipped.reason.tolist(), d.ignored.reason.tolist())
    assert _faces(d.x, d.y, d.usage, c.path.is_file()) == _faces(c.x, c.y, c.usage, c.path.is_file())
    if c.note: assert any(c.note in n for n in d.notes), d.notes

@pytest.mark.parametrize('name', list(CASES))
def test_fer_data_prints_the_table_or_the_fix(name, capsys):
    from fastcore.script import CliError
    from fer_fastai.cli import fer_data
    c = CASES[name]
    if c.error:
        with pytest.raises(CliError) as e: fer_data(str(c.path), no_cache=True)
        assert c.error in str(e.value) and c.path.name in str(e.value)
    if c.x is None: return
    with warnings.catch_warnings(record=True): fer_data(str(c.path), skip_bad=True, no_cache=True)
    out = capsys.readouterr().out
    want = pd.crosstab(pd.Categorical(c.usage, USAGES), pd.Categorical(np.array(EMOTIONS)[c.y], EMOTIONS), dropna=False)
    for split, counts in want.iterrows():
        if counts.sum(): assert re.search(rf'^{split}\s+' + r'\s+'.join(map(str, [*counts, counts.sum()])) + r'\s*$', out, re.M), out
    assert out.count('  skipped: ') == c.skipped
    if c.ignored: assert f'ignored {c.ignored} entries that are not faces' in out

def test_fer_data_command_exit_code(tmp_path):
    "The console command itself: a file that cannot be read ends with its message and exit code 1, no traceback"
    import subprocess, sys
    for name in ('gzip_cut_at_row_boundary.csv.gz', 'folder:broken_image'):
        r = subprocess.run([Path(sys.executable).parent/'fer-data', CASES[name].path, '--no-cache'], capture_output=True, text=True)
        assert r.returncode == 1 and CASES[name].error in r.stderr and 'Traceback' not in r.stderr, r.stderr[-800:]

def test_cache_keyed_on_content(tmp_path, monkeypatch):
    "A change that keeps the size and the modification time (cp -p, unzip, tar) is not hidden by the cache"
    monkeypatch.setenv('FER_CACHE', str(tmp_path/'cache'))
    p = synth_fer(tmp_path/'f.csv', n_per_class=2)
    d1 = read_fer(p)
    st = p.stat()
    p.write_text(p.read_text().replace('\n0,', '\n2,', 1))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (p.stat().st_size, p.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    d2 = read_fer(p)
    assert (d2.y == 2).sum() == (d1.y == 2).sum() + 1
    folder = synth_fer(tmp_path/'imgs', n_per_class=1, kind='folder')
    f = sorted(folder.rglob('*.png'))[0]
    d3 = read_fer(folder)
    st = f.stat(); a = np.asarray(Image.open(f)).copy(); a[0, 0] ^= 1
    Image.fromarray(a).save(f); os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (read_fer(folder).x != d3.x).sum() == 1

def test_mutated_files_read_or_fail_cleanly(tmp_path):
    """Random edits (separators, quotes, line ends, NUL and non-ASCII bytes, digits) to a good CSV, plain and gzipped: every read either
    accounts for every row (lines in = kept + skipped + ignored) or stops with a FerError, never another exception"""
    base = synth_fer(tmp_path/'b.csv', n_per_class=1).read_bytes()
    rng, alphabet = np.random.default_rng(0), list(b',;"\t\r\n 0123456789.-x\x00\xff\xc2\xa0')
    outcomes = {'read': 0, 'FerError': 0}
    for i in range(200):
        b = bytearray(base)
        for _ in range(rng.integers(1, 6)):
            op, pos, ch = rng.integers(3), int(rng.integers(len(b))), alphabet[rng.integers(len(alphabet))]
            if op == 0: b.insert(pos, ch)
            elif op == 1: del b[pos]
            else: b[pos] = ch
        data = bytes(b)
        p = tmp_path/f'f{i}.csv'; p.write_bytes(gzip.compress(data) if i % 5 == 0 else data)
        try:
            with warnings.catch_warnings(record=True): d = read_fer(p, on_bad='skip', cache=False)
        except FerError: outcomes['FerError'] += 1; continue
        outcomes['read'] += 1
        t = data.lstrip(b'\r\n\t ')
        if b'\n' not in t[:1<<16] and b'\r' in t[:1<<16]: t = t.replace(b'\r', b'\n')   # old Mac line ends
        rows = sum(1 for l in t.split(b'\n')[1:] if l not in (b'', b'\r'))
        assert rows == len(d) + len(d.skipped) + len(d.ignored), (i, rows, len(d), len(d.skipped), len(d.ignored))
    assert outcomes['read'] > 100, outcomes
