#!/usr/bin/env python
"""Build the documentation site offline, and README.md from nbs/index.ipynb.

Quarto (what `nbdev_docs` uses) cannot be installed on these machines, so this script builds the same site from the
same inputs: nbdev's own doc processors (what `nbdev_proc_nbs` runs: front matter, `show_doc` rendered, `#| hide` and
export cells removed, symbol links added) turn each notebook into a processed notebook; the Quarto cell options those
leave behind (`echo`, `output`, `include`, `code-fold`) are applied here; and pandoc renders each page into one
template with a sidebar of every notebook in pipeline order. Figures, tables and markdown come from the notebooks'
saved outputs; nothing is executed here except the export and import cells `show_doc` needs.

    python tools/build_site.py                       # site from nbs/ (saved outputs) into _site/, plus README.md
    python tools/build_site.py --src _build/nbs      # site from executed copies (tools/main.sh does this)
    python tools/build_site.py --readme-only         # only README.md from nbs/index.ipynb (fast, no nbdev processing)
"""
from __future__ import annotations
import argparse, base64, html, json, os, re, shutil, subprocess, sys, tempfile, time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(__file__).resolve().parent/'site'
_DIRECTIVE = re.compile(r'^\s*#\s*\|\s*([\w-]+):?\s*(.*?)\s*$')
_ANSI = re.compile(r'\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])')
_HIDDEN = {'hide', 'export', 'exporti', 'exports', 'default_exp'}

# ---------------------------------------------------------------------------------------------------- notebooks

def notebooks(src:Path)->list[Path]:
    "Pages in site order: index first, then the numbered stage notebooks sorted, then any other top-level notebook."
    nbs = [p for p in Path(src).glob('*.ipynb') if not p.name.startswith(('_', '.'))]
    first = [p for p in nbs if p.stem == 'index']
    staged = sorted(p for p in nbs if re.match(r'\d', p.name))
    return first + staged + sorted(set(nbs) - set(first) - set(staged))

def page_file(nb:Path)->str:
    "Output file name nbdev/Quarto give a notebook: the numeric prefix is dropped (`00_core.ipynb` -> `core.html`)."
    return re.sub(r'^\d+[a-z]?_', '', nb.stem) + '.html'

def directives(src:str)->tuple[dict, str]:
    "Split the leading `#| key: value` lines off a cell: ({key: value}, remaining source)."
    lines, d = src.splitlines(), {}
    while lines and (m := _DIRECTIVE.match(lines[0])):
        d[m[1].lower()] = m[2].strip().strip('"\'')
        lines.pop(0)
    return d, '\n'.join(lines).strip('\n')

def _text(x)->str: return ''.join(x) if isinstance(x, list) else (x or '')

def _read_json(p:Path)->dict: return json.loads(Path(p).read_text(encoding='utf-8'))

# ---------------------------------------------------------------------------------------------------- README

def build_readme(index_nb:Path=ROOT/'nbs'/'index.ipynb', out:Path=ROOT/'README.md')->Path:
    "Write README.md from the index notebook with nbconvert's MarkdownExporter (what `nbdev_readme` does via Quarto)."
    import nbformat
    from nbconvert import MarkdownExporter
    nb = nbformat.reads(Path(index_nb).read_text(encoding='utf-8'), as_version=4)
    nb.metadata.pop('widgets', None)
    nb.metadata.setdefault('language_info', {'name': 'python'})   # code fences get a language (nbdev_clean drops it)
    cells = []
    for cell in nb.cells:
        cell.pop('has_sd', None)                          # nbdev's extra key, rejected by nbformat validation
        cell.metadata.pop('execution', None)
        d, src = directives(_text(cell.source))
        if d.keys() & _HIDDEN or d.get('include') == 'false': continue
        if cell.cell_type == 'code':
            cell.source = src
            if d.get('echo') == 'false': cell.transient = {'remove_source': True}
            if d.get('output') == 'false': cell.outputs = []
        cells.append(cell)
    nb.cells = cells
    files_dir = Path(out).stem + '_files'
    body, res = MarkdownExporter().from_notebook_node(nb, resources={'output_files_dir': files_dir})
    body = re.sub(r'\]\((?!https?:|/|#)([^)\s]+\.ipynb)', r'](nbs/\1', body)   # notebook links work from the root
    for name, data in res.get('outputs', {}).items():
        p = Path(out).parent/name
        p.parent.mkdir(parents=True, exist_ok=True); p.write_bytes(data)
    warn = '<!-- Generated from nbs/index.ipynb by tools/build_site.py; edit the notebook, not this file. -->\n\n'
    Path(out).write_text(warn + body.strip() + '\n', encoding='utf-8')
    return Path(out)

# ---------------------------------------------------------------------------------------------------- nbdev processing

def _proc_one(args)->str|None:
    "Run nbdev's doc processors on one notebook (in a fresh process, as `nbdev_proc_nbs` does); return an error or None."
    src, dst = map(Path, args)
    os.chdir(ROOT)                                       # nbdev finds settings.ini from the working directory
    os.environ['IN_TEST'] = '1'
    os.environ['VU_WORKERS'] = '1'                        # a zoo in a cell nbdev runs makes its models in this process
    try:
        from execnb.nbio import read_nb, write_nb
        from nbdev.processors import FilterDefaults
        nb = read_nb(src)
        FilterDefaults()(nb)
        write_nb(nb, dst)
    except BaseException as e:
        import traceback
        return f"{src.name}: {type(e).__name__}: {e}\n{''.join(traceback.format_exception(e)[-3:])}"

def process(nbs:list[Path], dest:Path, n_workers:int|None=None)->list[Path]:
    "nbdev's doc processing of `nbs` into `dest` (any source folder, unlike `nbdev_proc_nbs`, which reads only nbs/)."
    dest.mkdir(parents=True, exist_ok=True)
    jobs = [(str(p), str(dest/p.name)) for p in nbs]
    n = n_workers or min(len(jobs), os.cpu_count() or 1, 4)
    if n <= 1: errors = [_proc_one(j) for j in jobs]
    else:
        # one fresh process per notebook: the IPython shell that runs its export cells replaces `__main__`
        with ProcessPoolExecutor(n, mp_context=get_context('spawn'), max_tasks_per_child=1) as ex:
            errors = list(ex.map(_proc_one, jobs))
    errors = [e for e in errors if e]
    if errors: sys.exit("build_site: nbdev processing failed:\n" + '\n'.join(errors))
    return [dest/p.name for p in nbs]

# ---------------------------------------------------------------------------------------------------- rendering

def _fence(text:str, cls:str='')->str:
    "A fenced code block that survives any backticks inside `text`."
    n = max([3] + [len(m) + 1 for m in re.findall(r'`{3,}', text)])
    attr = f' {{{cls}}}' if cls.startswith('.') else (f' {cls}' if cls else '')
    return f"{'`'*n}{attr}\n{text.rstrip()}\n{'`'*n}"

def _raw_html(s:str)->str:
    n = max([3] + [len(m) + 1 for m in re.findall(r'`{3,}', s)])
    return f"{'`'*n}{{=html}}\n{s.strip()}\n{'`'*n}"

def _div(cls:str, inner:str)->str: return f'<div class="{cls}">\n\n{inner}\n\n</div>'

def _clean_stream(s:str)->str:
    "Strip ANSI codes and keep only the last state of carriage-return progress lines (tqdm)."
    return '\n'.join(l.rsplit('\r', 1)[-1] for l in _ANSI.sub('', s).split('\n'))

def _tidy_fences(md:str)->str:
    "Drop the blank lines `show_doc` leaves around its signature code blocks, and the doc links nbdev puts inside them."
    out, fence = [], None
    for line in md.split('\n'):
        m = re.match(r'^(`{3,}|~{3,})', line)
        if fence is None and m: fence = m[1]; out.append(line); continue
        if fence is not None:
            if line.strip() == fence:
                while out and not out[-1].strip(): out.pop()
                fence = None
            elif not line.strip() and re.match(r'^(`{3,}|~{3,})', out[-1]): continue
            else: line = re.sub(r'\[(`[^`]+`)\]\([^)\s]+\)', r'\1', line)
        out.append(line)
    return '\n'.join(out)

class Page:
    "One notebook's page: reads the processed notebook and turns its cells into pandoc markdown."
    def __init__(self, nb_path:Path, src_nb:Path, out:Path):
        self.nb, self.src_nb, self.out = _read_json(nb_path), src_nb, out
        self.fm = self._frontmatter()
        self.file = self.fm.get('output-file') or page_file(src_nb)
        self.title = str(self.fm.get('title') or src_nb.stem)
        self.subtitle = str(self.fm.get('description') or '')
        self.n_img = 0

    def _frontmatter(self)->dict:
        import yaml
        c = self.nb['cells'][0] if self.nb['cells'] else {}
        m = re.match(r'^\s*---\s*\n(.*?)\n---\s*$', _text(c.get('source')), re.S) if c.get('cell_type') == 'raw' else None
        if not m: return {}
        self.nb['cells'] = self.nb['cells'][1:]
        return yaml.safe_load(m[1]) or {}

    def _image(self, mime:str, data, meta:dict)->str:
        ext = {'image/png': 'png', 'image/jpeg': 'jpg', 'image/svg+xml': 'svg', 'image/gif': 'gif'}[mime]
        self.n_img += 1
        rel = f"figures/{Path(self.file).stem}-{self.n_img}.{ext}"
        p = self.out/rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if ext == 'svg': p.write_text(_text(data), encoding='utf-8')
        else: p.write_bytes(base64.b64decode(_text(data)))
        w = (meta or {}).get('width')
        return _raw_html(f'<img class="output-img" src="{rel}" alt="figure {self.n_img}"' + (f' width="{w}"' if w else '') + '>')

    def _output(self, o:dict, asis:bool)->str|None:
        t = o.get('output_type')
        if t == 'stream':
            s = _clean_stream(_text(o.get('text'))).strip('\n')
            if not s.strip(): return None
            return s if asis and o.get('name') == 'stdout' else _div(f"cell-output cell-output-{o.get('name')}", _fence(s))
        if t == 'error':
            return _div('cell-output cell-output-error', _fence(_ANSI.sub('', '\n'.join(o.get('traceback', [])))))
        data, meta = o.get('data', {}), o.get('metadata', {})
        if 'application/vnd.jupyter.widget-view+json' in data:
            return _div('cell-output widget-note', '*Interactive widget: open this notebook in Jupyter to use it.*')
        for mime in ('image/png', 'image/jpeg', 'image/svg+xml', 'image/gif'):
            if mime in data: return _div('cell-output cell-output-display', self._image(mime, data[mime], meta.get(mime, {})))
        if 'text/html' in data: return _div('cell-output cell-output-display', _raw_html(_text(data['text/html'])))
        if 'text/markdown' in data: return _div('cell-output cell-output-markdown', _tidy_fences(_text(data['text/markdown'])))
        if 'text/latex' in data: return _div('cell-output cell-output-display', _text(data['text/latex']))
        if 'text/plain' in data: return _div('cell-output cell-output-display', _fence(_ANSI.sub('', _text(data['text/plain']))))
        return None

    def _code(self, cell:dict)->str|None:
        d, src = directives(_text(cell.get('source')))
        if d.get('include') == 'false': return None
        parts = []
        if d.get('echo', 'true') != 'false' and src.strip():
            block = _fence(src, 'python')
            fold = d.get('code-fold')
            if fold in ('true', 'show'):
                summary = html.escape(d.get('code-summary', 'Code'))
                block = f'<details class="code-fold"{" open" if fold == "show" else ""}><summary>{summary}</summary>\n\n{block}\n\n</details>'
            parts.append(block)
        if d.get('output', 'true') != 'false':
            parts += filter(None, (self._output(o, d.get('output') == 'asis') for o in cell.get('outputs', [])))
        return _div('cell', '\n\n'.join(parts)) if parts else None

    def _markdown(self, cell:dict)->str:
        src = _text(cell.get('source'))
        for name, bundle in (cell.get('attachments') or {}).items():
            mime, data = next(iter(bundle.items()))
            tag = self._image(mime, data, {})
            src = src.replace(f'attachment:{name}', re.search(r'src="([^"]+)"', tag)[1])
        return src

    def markdown(self)->str:
        "The page body as pandoc markdown."
        parts = []
        for cell in self.nb['cells']:
            if cell.get('source') is None: continue
            if cell['cell_type'] == 'markdown': parts.append(self._markdown(cell))
            elif cell['cell_type'] == 'code': parts.append(self._code(cell))
            elif cell['cell_type'] == 'raw' and 'html' in str(cell.get('metadata', {}).get('format', '')):
                parts.append(_raw_html(_text(cell['source'])))
        return '\n\n'.join(p for p in parts if p)

def _links(md:str, pages:dict[str, str], doc_url:str, nbs_dir:Path, out:Path)->str:
    "Make links local: nbdev's absolute doc links, `x.ipynb` links and relative images from the notebooks' folder."
    if doc_url: md = md.replace(doc_url.rstrip('/') + '/', '')
    def nb_link(m):
        stem, frag = Path(m[2]).stem, m[3] or ''
        return f"{m[1]}{pages[stem]}{frag}" if stem in pages else m[0]
    md = re.sub(r'(\]\(|href=")((?![a-z]+:)[^)"\s#]*\.ipynb)(#[^)"\s]*)?', nb_link, md)
    def asset(m):
        rel = m[2]
        p = (nbs_dir/rel)
        if re.match(r'[a-z]+:|/|#', rel) or not p.is_file(): return m[0]
        dst = out/'assets'/rel
        dst.parent.mkdir(parents=True, exist_ok=True); shutil.copy2(p, dst)
        return f"{m[1]}assets/{rel}"
    return re.sub(r'(!\[[^\]]*\]\(|<img[^>]*\ssrc=")([^)"\s]+)', asset, md)

def _md_inline(s:str)->str:
    "HTML for a one-line description: escaped, with `code` spans."
    return re.sub(r'`([^`]+)`', r'<code>\1</code>', html.escape(s))

def _sidebar(pages:list[Page], current:Page, title:str)->str:
    items = []
    for p in pages:
        stage = re.match(r'(\d+[a-z]?)_', p.src_nb.name)
        label = 'Home' if p.src_nb.stem == 'index' else html.escape(p.title)
        num = f'<span class="stage">{stage[1]}</span>' if stage else ''
        cls = ' class="active"' if p is current else ''
        items.append(f'<li{cls}><a href="{p.file}" title="{html.escape(p.subtitle)}">{num}{label}</a></li>')
    return f'<a class="site-title" href="index.html">{html.escape(title)}</a>\n<ul class="pages">\n' + '\n'.join(items) + '\n</ul>'

def _git_sha()->str:
    try: return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True, timeout=5).stdout.strip()
    except Exception: return ''

def render(pages:list[Page], out:Path, cfg, footer:str):
    "Render every page with pandoc into `out`, with the sidebar, styles and local links."
    names = {p.src_nb.stem: p.file for p in pages}
    doc_url = f"{cfg.get('doc_host', '')}{cfg.get('doc_baseurl', '')}"
    for p in pages:
        md = _links(p.markdown(), names, doc_url, ROOT/'nbs', out)
        cmd = ['pandoc', '-f', 'markdown-yaml_metadata_block', '-t', 'html5', '--standalone', '--mathml',
               '--template', str(ASSETS/'page.html'), '--highlight-style', 'pygments', '--toc', '--toc-depth', '2', '--columns', '9999',
               '--metadata', f'pagetitle={p.title}', '-V', f'sitetitle={html.escape(cfg.get("title", "docs"))}',
               '-V', f'sidebar={_sidebar(pages, p, cfg.get("title", "docs"))}', '-V', f'footer={footer}',
               '-o', str(out/p.file)]
        if p.subtitle: cmd += ['-V', f'subtitle={_md_inline(p.subtitle)}']
        r = subprocess.run(cmd, input=md, text=True, capture_output=True)
        if r.returncode: sys.exit(f"build_site: pandoc failed on {p.src_nb.name}:\n{r.stderr}")
    shutil.copy2(ASSETS/'site.css', out/'site.css')
    styles = ROOT/'nbs'/'styles.css'
    (out/'styles.css').write_text(styles.read_text() if styles.exists() else '')

def bench_page(bench_dir:Path, proc_dir:Path)->Path|None:
    "A 'Benchmarks' notebook holding what tools/main.sh captured from benchmarks/*.py (`<name>.txt`), if anything."
    outs = sorted(Path(bench_dir).glob('*.txt')) if bench_dir and Path(bench_dir).is_dir() else []
    if not outs: return None
    cells = [{'cell_type': 'raw', 'metadata': {}, 'source': '---\ntitle: Benchmarks\ndescription: Speed and accuracy '
              'tables printed by the scripts in benchmarks/, captured by the last run of tools/main.sh.\n'
              'output-file: benchmarks.html\n---'}]
    for f in outs:
        text = f.read_text().strip()
        when = datetime.fromtimestamp(f.stat().st_mtime, timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
        is_md = re.search(r'^\|[-:| ]+\|\s*$', text, re.M)          # printed a markdown table: render it
        cells.append({'cell_type': 'markdown', 'metadata': {}, 'source':
                      f"## `benchmarks/{f.stem}.py`\n\nOutput of `python benchmarks/{f.stem}.py`, {when}:\n\n"
                      + (text if is_md else _fence(text))})
    p = proc_dir/'99_benchmarks.ipynb'
    p.write_text(json.dumps({'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}))
    return p

def report_page(report_dir:Path|None, proc_dir:Path)->Path|None:
    "A 'Report' notebook holding the cross-metric report of the run saved in `report_dir` (tools/main.sh), if any."
    if not report_dir or not (Path(report_dir)/'result.json').exists(): return None
    from vision_unlearning.report import load_result, report_body
    when = datetime.fromtimestamp((Path(report_dir)/'result.json').stat().st_mtime, timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    cells = [{'cell_type': 'raw', 'metadata': {}, 'source': '---\ntitle: "The default run: every method, every metric"\n'
              'description: The default run of `vision-unlearning run`, captured by the last run of tools/main.sh.\n'
              'output-file: default_run.html\n---'},
             {'cell_type': 'markdown', 'metadata': {}, 'source':
              f"Written by `vision-unlearning run` ({when}); how it is computed: [30_report](30_report.ipynb), "
              "the command: [30b_cli](30b_cli.ipynb).\n\n" + report_body(load_result(report_dir))}]
    p = proc_dir/'98_default_run.ipynb'
    p.write_text(json.dumps({'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}))
    return p

def build_site(src:Path, out:Path, bench_dir:Path|None=None, keep_proc:Path|None=None,
               report_dir:Path|None=None)->Path:
    "Process and render every notebook of `src` into the site folder `out`."
    from nbdev.config import get_config
    os.chdir(ROOT)
    cfg = get_config()
    nbs = notebooks(src)
    if not nbs: sys.exit(f"build_site: no notebooks in {src}")
    t = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        proc = Path(keep_proc or tmp)
        procd = process(nbs, proc)
        print(f"build_site: nbdev processing of {len(nbs)} notebooks: {time.time()-t:.1f} s")
        if out.exists(): shutil.rmtree(out)
        out.mkdir(parents=True)
        pages = [Page(pp, nb, out) for pp, nb in zip(procd, nbs)]
        if (rp := report_page(report_dir, proc)) is not None: pages.append(Page(rp, Path('default_run.ipynb'), out))
        if (bp := bench_page(bench_dir, proc)) is not None: pages.append(Page(bp, Path('benchmarks.ipynb'), out))
        rel = os.path.relpath(src, ROOT) if Path(src).resolve().is_relative_to(ROOT) else str(src)
        when = datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
        footer = html.escape(f"Built {when} from {rel}/ at commit {_git_sha() or 'unknown'} by tools/build_site.py.")
        render(pages, out, cfg, footer)
    print(f"build_site: {len(pages)} pages in {out} ({time.time()-t:.1f} s)")
    return out

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--src', default='nbs', help='folder of notebooks to render (nbs/ or the executed copies in _build/nbs)')
    ap.add_argument('--out', default='_site', help='site folder (replaced)')
    ap.add_argument('--readme-only', action='store_true', help='only write README.md from nbs/index.ipynb')
    ap.add_argument('--no-readme', action='store_true', help='do not write README.md')
    ap.add_argument('--readme-out', default=str(ROOT/'README.md'), help='where README.md goes')
    ap.add_argument('--bench-dir', default=str(ROOT/'_build'/'benchmarks'), help='captured benchmark outputs (*.txt)')
    ap.add_argument('--keep-proc', default=None, help='keep the processed notebooks in this folder (debugging)')
    ap.add_argument('--report-dir', default=str(ROOT/'_build'/'report'),
                    help='a result folder of `vision-unlearning run`: rendered as the Report page')
    a = ap.parse_args(argv)
    if not a.no_readme:
        print(f"build_site: wrote {os.path.relpath(build_readme(ROOT/'nbs'/'index.ipynb', Path(a.readme_out).resolve()))}")
    if a.readme_only: return
    build_site(Path(a.src).resolve(), Path(a.out).resolve(), Path(a.bench_dir),
               Path(a.keep_proc).resolve() if a.keep_proc else None, Path(a.report_dir))

if __name__ == '__main__': main()
