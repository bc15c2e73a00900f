#!/usr/bin/env python3
"""Tidy the text outputs `nbdev-test --save` keeps: progress bars printed with carriage returns
become what a terminal shows at the end, and lines that are only a progress bar go.
Usage: python3 bin/tidy_outputs.py nbs/10_tutorial_fer2013.ipynb [...]  (no argument: every notebook in nbs/)"""
import json, re, sys
from pathlib import Path

BAR = re.compile(r'^\s*(Epoch \d+/\d+ : )?\|[█-]*\|.*\]\s*$|^[█\s]*$')

def tidy(text:str) -> str:
    "The text as a terminal ends up showing it, without lines that are only a progress bar"
    lines = []
    for line in text.split('\n'):
        seen = [s for s in line.split('\r') if s.strip()]
        line = seen[-1].lstrip('█') if seen else ''
        if not BAR.match(line) or not line.strip() and not seen: lines.append(line.rstrip())
    return '\n'.join(lines)

def tidy_nb(path:Path) -> bool:
    "Tidy every stream output of notebook `path` in place; whether it changed"
    nb = json.loads(path.read_text())
    changed = False
    for c in nb['cells']:
        for o in c.get('outputs', []):
            if o.get('output_type') != 'stream': continue
            text = ''.join(o['text'])
            new = tidy(text)
            if new != text: o['text'], changed = new.splitlines(keepends=True), True
        n = len(c.get('outputs', []))
        if n: c['outputs'] = [o for o in c['outputs'] if o.get('output_type') != 'stream' or ''.join(o['text']).strip()]
        changed |= n != len(c.get('outputs', []))
    if changed: path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    return changed

if __name__ == '__main__':
    paths = [Path(p) for p in sys.argv[1:]] or sorted(Path(__file__).parents[1].joinpath('nbs').glob('*.ipynb'))
    for p in paths:
        if tidy_nb(p): print('tidied', p)
