"""The offline docs site and the README, built the way tools/main.sh --no-exec builds them."""
import base64, html, io, json, re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = [sys.executable, str(ROOT/'tools'/'build_site.py')]

def _build(src, out, *extra):
    r = subprocess.run(BUILD + ['--src', str(src), '--out', str(out), '--no-readme', '--bench-dir', str(out/'none'), *extra],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, f"build_site.py failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    return out

def _title(nb:Path)->str:
    "The notebook's page title: `title:` of a YAML front-matter cell, else its H1 (as nbdev reads them)."
    cells = json.loads(nb.read_text())['cells']
    if cells and cells[0]['cell_type'] == 'raw' and (m := re.search(r'^title:\s*(.+)$', ''.join(cells[0]['source']), re.M)):
        return m[1].strip().strip('"\'')
    src = next(''.join(c['source']) for c in cells if c['cell_type'] == 'markdown')
    return re.match(r'#\s+(.+)', src.strip())[1].strip()

def _page(nb:Path)->str: return re.sub(r'^\d+[a-z]?_', '', nb.stem) + '.html'

def _sidebar(html:str)->list[str]:
    nav = re.search(r'<nav class="sidebar".*?</nav>', html, re.S)[0]
    return re.findall(r'<li[^>]*><a href="([^"]+)"', nav)

def _nb(path:Path, cells:list):
    path.write_text(json.dumps({'cells': cells, 'nbformat': 4, 'nbformat_minor': 5,
        'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}}}))

def _md(s): return {'cell_type': 'markdown', 'metadata': {}, 'source': s}
def _code(s, *outputs): return {'cell_type': 'code', 'metadata': {}, 'source': s, 'outputs': list(outputs), 'execution_count': 1}

# ------------------------------------------------------------------------------------------------ committed notebooks

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The site built from the committed notebooks' saved outputs (`tools/main.sh --no-exec`)."
    return _build(ROOT/'nbs', tmp_path_factory.mktemp('site'))

NBS = sorted(p for p in (ROOT/'nbs').glob('[0-9]*.ipynb'))

def test_every_notebook_has_a_titled_page(site):
    for nb in [ROOT/'nbs'/'index.ipynb'] + NBS:
        page = site/_page(nb)
        assert page.exists(), f"no page for {nb.name}"
        html = page.read_text()
        assert f'<h1 class="title">{_title(nb)}</h1>' in html, f"{page.name}: title is not the H1 of {nb.name}"
        assert f'<title>{_title(nb)} ' in html

def test_sidebar_lists_pages_in_pipeline_order(site):
    want = ['index.html'] + [_page(nb) for nb in NBS]
    for page in want: assert _sidebar((site/page).read_text())[:len(want)] == want

def test_figures_come_from_saved_outputs(site):
    with_figs = [nb for nb in NBS if '"image/png"' in nb.read_text()]
    for nb in with_figs:
        srcs = re.findall(r'<img[^>]*src="([^"]+)"', (site/_page(nb)).read_text())
        assert srcs, f"{nb.name} has a saved figure but its page has no <img>"
        for s in srcs: assert s.startswith('data:') or (site/s).is_file(), s

def test_home_page_is_the_readme_content(site):
    html = (site/'index.html').read_text()
    assert 'bash tools/main.sh' in html and 'bash tools/test.sh' in html
    assert 'href="core.html"' in html                      # nbs/00_core.ipynb link made local

# ------------------------------------------------------------------------------------------------ renderer features

def _png()->str:
    from PIL import Image
    buf = io.BytesIO(); Image.new('RGB', (8, 6), (200, 30, 30)).save(buf, format='PNG')
    return base64.b64encode(buf.getvalue()).decode()

@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    "A two-page site from synthetic notebooks that use every feature the renderer must handle."
    src = tmp_path_factory.mktemp('src')
    _nb(src/'index.ipynb', [_md('# Demo home\n\n> The home page.'), _md('See [the stage](00_stage.ipynb#a-section).')])
    _nb(src/'00_stage.ipynb', [
        _md('# A stage\n\n> What this stage answers.'),
        _code('#| hide\nSECRET_HIDDEN = 1'),
        _md('## A section\n\nInline math $m = z_y - \\log\\sum_{j \\neq y} e^{z_j}$ and a [link](index.ipynb).'),
        _code('fig()', {'output_type': 'display_data', 'metadata': {},
                        'data': {'image/png': _png(), 'text/plain': '<Figure>'}}),
        _code('#| echo: false\nECHO_HIDDEN()', {'output_type': 'execute_result', 'execution_count': 1, 'metadata': {},
              'data': {'text/html': '<table class="dataframe"><tr><td>42</td></tr></table>', 'text/plain': 'df'}}),
        _code('#| output: asis\nprint(table)', {'output_type': 'stream', 'name': 'stdout',
              'text': '| metric | value |\n|---|---|\n| klom | 0.25 |\n'}),
        _code('x = 1\nx', {'output_type': 'execute_result', 'execution_count': 1, 'metadata': {}, 'data': {'text/plain': '1'}}),
    ])
    return _build(src, tmp_path_factory.mktemp('demo'))

def test_demo_pages_titles_and_order(demo):
    html = (demo/'stage.html').read_text()
    assert '<h1 class="title">A stage</h1>' in html and 'What this stage answers.' in html
    assert _sidebar(html) == ['index.html', 'stage.html']
    assert 'class="active"><a href="stage.html"' in html

def test_demo_figure_is_a_file(demo):
    srcs = re.findall(r'<img[^>]*src="([^"]+)"', (demo/'stage.html').read_text())
    assert len(srcs) == 1 and (demo/srcs[0]).read_bytes()[:4] == b'\x89PNG'

def test_demo_directives_and_outputs(demo):
    html = (demo/'stage.html').read_text()
    assert 'SECRET_HIDDEN' not in html                     # `#| hide` cell removed by nbdev's processors
    assert 'ECHO_HIDDEN' not in html and '<td>42</td>' in html   # `echo: false`: output without code
    assert re.search(r'<td[^>]*>klom</td>', html)          # `output: asis` markdown printed as a table
    assert '<math' in html                                 # LaTeX rendered offline as MathML
    assert 'class="sourceCode python"' in html             # highlighted code cell

def test_demo_links_are_local(demo):
    assert 'href="stage.html#a-section"' in (demo/'index.html').read_text()
    assert 'href="index.html"' in (demo/'stage.html').read_text()

# ------------------------------------------------------------------------------------------------ README

def test_readme_is_generated_from_index(tmp_path):
    out = tmp_path/'README.md'
    r = subprocess.run(BUILD + ['--readme-only', '--readme-out', str(out)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert text.splitlines()[2] == f"# {_title(ROOT/'nbs'/'index.ipynb')}"
    assert '```bash\nbash tools/main.sh\n```' in text and '```bash\nbash tools/test.sh\n```' in text
    assert '](nbs/00_core.ipynb)' in text                   # notebook links work from the repository root
    assert text == (ROOT/'README.md').read_text(), \
        "README.md is out of date: run `.venv/bin/python tools/build_site.py --readme-only` and commit it"

def test_signatures_read_as_python(site):
    "No signature on the site shows nbdev's `kwargs:VAR_KEYWORD`: configs are field tables, errors `class X(Base)`."
    for page in site.glob('*.html'):
        text = html.unescape(re.sub(r'<[^>]+>', '', page.read_text()))
        for sig in re.findall(r'def \w+\([^()]*\)', text):
            assert 'VAR_' not in sig, f"{page.name}: {sig!r}"
    page = (site/'core.html').read_text()
    assert 'class ConfigError(VisionUnlearningError, ValueError)' in html.unescape(re.sub(r'<[^>]+>', '', page))
    assert '<table' in page.split('id="config"')[1].split('<h3')[0], "core.html: Config has no field table"
    page = (site/'nomus_benchmark.html').read_text()
    sec = page[page.index('<h3 id="nomussetting"'):][:20000]
    assert 'class NomusSetting(Setting)' in re.sub(r'<[^>]+>', '', sec)
    for cell in ['<code>n_images</code>', '<code>int ≥ 10</code>', '<code>5000</code>', 'a seeded subset split into test']:
        assert cell in sec, f"NomusSetting's field table lacks {cell}"

def test_source_notebooks_carry_no_failure_banner():
    "A failed run's banner belongs to the executed copy under _build/, never to a committed notebook."
    for nb in sorted((ROOT/'nbs').glob('*.ipynb')):
        assert 'class=\\"run-failed\\"' not in nb.read_text(), f"{nb.name} carries a main-job failure banner"
