"""Build the documentation site into _docs/ from the notebooks, with pure-Python tools from the package registry.

nbdev-docs needs Quarto, which these machines cannot install. MkDocs can: mkdocs-jupyter renders each notebook with the
outputs it keeps (figures, tables, text), mkdocstrings (griffe) gives every module's API with signatures and docstrings,
as nbdev's show_doc does, and Material gives search and navigation that work offline. Jupyter Book 2 was the other
candidate, but it runs on Node.js (mystmd). The notebooks keep their Quarto directives, so nbdev-docs still works where
Quarto is installed; here the directives are read the way Quarto reads them: `#| hide` cells and `#| default_exp` are left
out, the other `#|` lines are dropped from the code shown.

    python bin/docs.py        (bash bin/docs: the same, in the project's .venv)
"""
import json, re, shutil, subprocess, sys, tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC, OUT = ROOT/'_docs_src', ROOT/'_docs'
REPO = 'https://github.com/fer-fastai/fer_fastai/blob/main'

def directives(src:str) -> set:
    "The Quarto/nbdev directives of a cell (`#| hide` -> 'hide', `#| eval: false` -> 'eval: false')"
    return {l[3:].strip() for l in src.splitlines() if l.startswith('#|')}

def page_notebook(nb_path:Path, dest:Path):
    "The notebook as the site shows it: hidden cells out, directive lines out of the code, outputs kept"
    nb = json.loads(nb_path.read_text())
    cells = []
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'code':
            d = directives(src)
            if 'hide' in d or any(x.startswith('default_exp') for x in d): continue
            c['source'] = ''.join(l for l in src.splitlines(keepends=True) if not l.startswith('#|')).lstrip('\n')
        cells.append(c)
    nb['cells'] = cells
    dest.write_text(json.dumps(nb))
    title = next((l[2:].strip() for c in cells if c['cell_type'] == 'markdown' for l in ''.join(c['source']).splitlines() if l.startswith('# ')), nb_path.stem)
    return title

def page_index(dest:Path):
    "README.md (made from index.ipynb) as the home page, its links pointed at the site's pages or the repository"
    text = (ROOT/'README.md').read_text()
    def link(m):
        target = m.group(2)
        if re.match(r'[a-z]+:|#', target): return m.group(0)
        if target.startswith('nbs/images/'): shutil.copy(ROOT/target, SRC/'docs'/'images'/Path(target).name); return f"{m.group(1)}(images/{Path(target).name})"
        if target.startswith('nbs/') and target.endswith('.ipynb'): return f"{m.group(1)}({Path(target).name})"   # mkdocs-jupyter makes it a page
        return f"{m.group(1)}({REPO}/{target})"
    dest.write_text(re.sub(r'(!?\[[^\]]*\])\(([^)\s]+)\)', link, text))

def page_api(mod:str, dest:Path):
    dest.write_text(f"# fer_fastai.{mod}\n\n::: fer_fastai.{mod}\n")
    return f'fer_fastai.{mod}'

def page_cli(cmd:str, spec:str, dest:Path):
    "The command's --help (the parser fastcore's call_parse builds from its arguments and their comments), as a page"
    import importlib, inspect
    from fastcore.script import anno_parser
    mod, name = spec.split(':')
    f = getattr(importlib.import_module(mod), name)
    pos = inspect.getclosurevars(f).nonlocals.get('pos')
    text = anno_parser(inspect.unwrap(f), prog=cmd, pos=pos).format_help()
    dest.write_text(f"# {cmd}\n\n```text\n{text.rstrip()}\n```\n")

def build():
    shutil.rmtree(SRC, ignore_errors=True)
    docs = SRC/'docs'
    for d in ('api', 'cli', 'images'): (docs/d).mkdir(parents=True)
    page_index(docs/'index.md')
    nbs = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if p.stem != 'index')
    nav_nbs = [{page_notebook(p, docs/p.name): p.name} for p in nbs]
    tutorials = [n for n in nav_nbs if next(iter(n.values()))[:1] == '1']
    mods = sorted(p.stem for p in (ROOT/'fer_fastai').glob('*.py') if not p.stem.startswith('_'))
    nav_api = [{page_api(m, docs/'api'/f'{m}.md'): f'api/{m}.md'} for m in mods]
    scripts = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['scripts']
    nav_cli = []
    for cmd, spec in scripts.items(): page_cli(cmd, spec, docs/'cli'/f'{cmd}.md'); nav_cli.append({cmd: f'cli/{cmd}.md'})
    cfg = dict(site_name='fer_fastai', site_url='https://fer-fastai.github.io/fer_fastai/', repo_url='https://github.com/fer-fastai/fer_fastai',
               docs_dir=str(docs), site_dir=str(OUT), use_directory_urls=True,
               theme=dict(name='material', font=False, features=['navigation.sections', 'search.highlight']),
               plugins=['search', dict(**{'mkdocs-jupyter': dict(execute=False, include_source=True, ignore_h1_titles=False)}),
                        dict(mkdocstrings=dict(handlers=dict(python=dict(paths=[str(ROOT)], options=dict(
                            show_source=False, members_order='source', show_root_heading=False, show_signature_annotations=True,
                            separate_signature=True, docstring_style=None, filters=['!^_'], show_if_no_docstring=True)))))],
               markdown_extensions=['tables', 'admonition', 'pymdownx.superfences', 'pymdownx.highlight'],
               nav=[{'Home': 'index.md'}, {'Tutorials': tutorials}, {'Notebooks': [n for n in nav_nbs if n not in tutorials]},
                    {'API': nav_api}, {'Commands': nav_cli}])
    (SRC/'mkdocs.yml').write_text(json.dumps(cfg, indent=1))   # JSON is YAML
    r = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--strict', '--clean', '-f', str(SRC/'mkdocs.yml')], cwd=SRC)   # mkdocs-jupyter caches in the working folder
    if r.returncode: raise SystemExit(r.returncode)
    print(f"wrote the site to {OUT.relative_to(ROOT)}/ ({sum(1 for _ in OUT.rglob('*.html'))} pages); open {OUT.relative_to(ROOT)}/index.html")

if __name__ == '__main__': build()
