"""Write README.md from nbs/index.ipynb: markdown cells as they are, code cells as python blocks with their text outputs.
nbdev-readme needs Quarto, which cannot be installed from the package registries; this keeps README.md generated all the same."""
import json, re
from pathlib import Path

def cell_md(c) -> str:
    src = ''.join(c['source'])
    if c['cell_type']=='markdown': return src
    if src.lstrip().startswith('#| hide') or not src.strip(): return ''
    src = '\n'.join(l for l in src.splitlines() if not l.startswith('#|'))
    out = ''.join(''.join(o.get('text', '') or o.get('data', {}).get('text/plain', '')) for o in c.get('outputs', []))
    return f'```python\n{src}\n```' + (f'\n\n```\n{out.rstrip()}\n```' if out.strip() else '')

root = Path(__file__).resolve().parents[1]
nb = json.loads((root/'nbs'/'index.ipynb').read_text())
md = '\n\n'.join(s for s in map(cell_md, nb['cells']) if s.strip())
md = re.sub(r'\]\((?!https?:|#|/|nbs/)([^)]+)\)', r'](nbs/\1)', md)   # links and pictures relative to nbs/ (images, notebooks)
(root/'README.md').write_text('<!-- generated from nbs/index.ipynb by bin/readme.py: edit the notebook -->\n\n' + md.strip() + '\n')
