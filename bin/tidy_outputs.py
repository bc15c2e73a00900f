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
        seen = [s for s in line.split('\r') if s.strip()]   # what each carriage return overwrote
        if not seen: lines.append(''); continue              # an empty line stays
        line = seen[-1].lstrip('█').rstrip()
        if not BAR.match(line): lines.append(line)
    return '\n'.join(lines)

def tidy_nb(path:Path) -> bool:
    "Tidy every stream output of notebook `path` in place; whether it changed"
    nb = json.loads(path.read_text())
    before = json.dumps(nb)
    for c in nb['cells']:
        if not c.get('outputs'): continue
        for o in c['outputs']:
            if o.get('output_type') == 'stream': o['text'] = tidy(''.join(o['text'])).splitlines(keepends=True)
        c['outputs'] = [o for o in c['outputs'] if o.get('output_type') != 'stream' or ''.join(o['text']).strip()]   # bars only: gone
    changed = json.dumps(nb) != before
    if changed: path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    return changed

if __name__ == '__main__':
    paths = [Path(p) for p in sys.argv[1:]] or sorted(Path(__file__).parents[1].joinpath('nbs').glob('*.ipynb'))
    for p in paths:
        if tidy_nb(p): print('tidied', p)
