"""Drive the explorers' notebook in JupyterLab, in headless Chromium, as a user would (used by `test_explorers.py`).

The test writes the notebook (`write_notebook`), starts JupyterLab on localhost and runs this file with a Python that
has playwright (its own venv: `bash tools/install_browser_test.sh`):

    python tests/jlab_driver.py --url http://127.0.0.1:PORT/lab/tree/explore.ipynb?reset&token=T --shots DIR --report FILE

The driver restarts the kernel and runs every cell, waits for each explorer's widgets, changes selections, checks that
each explorer's output changes as it should, and saves a screenshot after every step. It writes a JSON report
(`problems`, `timings`, `shots`) and exits 1 if there is any problem. It never stops at the first problem: each
explorer is checked on its own, so one broken explorer does not hide the others. Only the standard library is imported
at the top: the test imports this module (for `write_notebook`) without playwright.
"""
import argparse, json, os, re, sys, time

CHROMIUM = os.environ.get('VU_CHROMIUM', '/usr/bin/chromium')
LOCAL = ('http://127.0.0.1', 'ws://127.0.0.1', 'data:', 'blob:')   # JupyterLab and Chromium must ask nothing else
BENIGN = 'Canceled future for'   # JupyterLab's kernel-restart race (debug_request / kernel_info_request): harmless
KLOM_SETTING = 'explorer_test'   # the name of the small KLOM run the test stores
EXPLORERS = ['font', 'nomus', 'klom', 'icare']   # cell i (from 1) holds explorer EXPLORERS[i - 1]

def cells(scratch:str)->list[str]:
    "The notebook's cells: the environment, then one explorer a cell (the icare answers go to the store `scratch`)."
    return [
        "import os\nfrom vision_unlearning.experiments.klom_fmnist import klom_runs\n"
        "print({k: os.environ.get(k) for k in ('VU_CACHE', 'VU_PROGRESS', 'HF_HUB_OFFLINE')})\nklom_runs()",
        "# font explorer\nfrom vision_unlearning.data import font_explorer, load_font_identities\n"
        "font_explorer(load_font_identities())",
        "# nomus explorer (two of its settings; the test stored two rows of the first)\n"
        "from vision_unlearning.experiments.mufac import nomus_explorer\n"
        "nomus_explorer(['mucac_binary', 'mucac_multilabel'])",
        "# klom explorer without a run: it opens the largest run recorded in the store, and never trains\n"
        "from vision_unlearning.experiments.klom_fmnist import klom_explorer\nklom_explorer()",
        "# icare explorer on the planted testbed; *compute* caches its answers in a scratch store, not in $VU_CACHE\n"
        "from vision_unlearning.core import ArtifactStore\n"
        "from vision_unlearning.benchmarks.I_care import TestbedConfig, icare_explorer, testbed\n"
        f"scratch = ArtifactStore({scratch!r})\n"
        "icare_explorer(testbed(TestbedConfig(image_emitters=3), store=scratch), 'fonts', "
        "'SignificantRelationshipNumerical', store=scratch)",
    ]

def write_notebook(path:str, scratch:str):
    "Write the explorers' notebook (no outputs) to `path`."
    # `raises-exception`: Run All goes on past a cell that raises, so one broken explorer does not hide the next ones
    cell = lambda i, s: dict(cell_type='code', execution_count=None, id=f'cell{i}', outputs=[], source=s,
                             metadata=dict(tags=['raises-exception']))
    nb = dict(nbformat=4, nbformat_minor=5, cells=[cell(i, s) for i, s in enumerate(cells(scratch))],
              metadata=dict(kernelspec=dict(name='python3', display_name='Python 3 (ipykernel)', language='python')))
    with open(path, 'w') as f: json.dump(nb, f, indent=1)

# What a person sees of a <select>: the text of the selected option, every option, and whether the longest fits.
_SELECTED = "e => e.selectedIndex < 0 ? null : e.options[e.selectedIndex].text"
_OPTIONS = "e => [...e.options].map(o => o.text)"
_FITS = """e => { const s = getComputedStyle(e), c = document.createElement('canvas').getContext('2d');
  c.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
  const text = Math.max(...[...e.options].map(o => c.measureText(o.text).width));
  return {text: Math.ceil(text), room: e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)}; }"""

class Driver:
    "One page of JupyterLab with the explorers' notebook; problems are collected, not raised."
    def __init__(self, page, shots:str):
        self.pg, self.shots, self.problems, self.timings, self.saved = page, shots, [], {}, []
        self.cells = page.locator('.jp-Notebook .jp-CodeCell')

    def shot(self, i:int, tag:str):
        "Screenshot of cell `i` as `tag`.png."
        path = os.path.join(self.shots, f'{tag}.png'); self.cells.nth(i).screenshot(path=path); self.saved.append(path)

    def out(self, i:int): return self.cells.nth(i).locator('.widget-output').first
    def sel(self, i:int, k:int): return self.cells.nth(i).locator('.widget-dropdown select').nth(k)
    def selected(self, i:int, k:int): return self.sel(i, k).evaluate(_SELECTED)
    def options(self, i:int, k:int): return self.sel(i, k).evaluate(_OPTIONS)
    def text(self, i:int)->str: return self.out(i).inner_text()

    def changes(self, tag:str, i:int, action, done=lambda html: True, timeout:float=90)->str:
        "Do `action`; wait until cell `i`'s output differs, satisfies `done` and stays the same for 0.5 s; screenshot."
        before = self.out(i).inner_html(); action(); t, prev = time.time(), None
        while time.time() - t < timeout:
            cur = self.out(i).inner_html()
            if cur != before and cur == prev and done(cur): break
            prev = cur; time.sleep(0.5)
        else:
            self.shot(i, f'{tag}_timeout'); raise AssertionError(f"output did not change as expected within {timeout:.0f} s")
        self.shot(i, tag); self.timings[tag] = round(time.time() - t, 1)
        return cur

    def idle(self)->bool:
        "Whether the kernel is idle (JupyterLab's execution indicator)."
        return self.pg.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').count() > 0

    def shown(self, i:int, timeout:float=300)->bool:
        "Wait until cell `i` shows widgets, their text fallback or an error; False if the kernel went idle without."
        what = self.cells.nth(i).locator('.widget-dropdown select, .jp-OutputArea-output:has-text("VBox("), '
                                         '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        t, idle_since = time.time(), None
        while time.time() - t < timeout:
            if what.count(): return True
            idle_since = (idle_since or time.time()) if self.idle() else None
            if idle_since and time.time() - idle_since > 3: return what.count() > 0   # done running, nothing shown
            time.sleep(0.5)
        return False

    def check(self, name:str, i:int, fn):
        "Run the checks `fn` of explorer `name` (cell `i`), recording a failure as a problem."
        t = time.time()
        try: fn(self, i)
        except Exception as e:
            self.problems.append(f"{name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            try: self.shot(i, f'{name}_failed')
            except Exception: pass
        self.timings[f'{name} checks'] = round(time.time() - t, 1)

    def expect(self, ok:bool, what:str):
        "Record `what` as a problem unless `ok` (the checks go on)."
        if not ok: self.problems.append(what)

def font_checks(d:Driver, i:int):
    "The glyph grid is shown, and another font shows other glyphs."
    d.expect('<img' in d.out(i).inner_html(), 'font: the explorer shows no glyph image')
    d.changes('font_pick', i, lambda: d.sel(i, 0).select_option(index=5), lambda h: '<img' in h)

def nomus_checks(d:Driver, i:int):
    "It opens on a method with its histograms; a method and a setting change what is shown."
    method = d.selected(i, 1)
    d.expect(method is not None and d.text(i).strip() != '',
             f"nomus: opens blank (method dropdown value {method!r}, empty output): a user sees nothing until they pick")
    other = 'SCRUB' if method != 'SCRUB' else 'Original'
    d.changes('nomus_method', i, lambda: d.sel(i, 1).select_option(label=other), lambda h: '<img' in h)
    d.changes('nomus_setting', i, lambda: d.sel(i, 0).select_option(label='mucac_multilabel'),
              lambda h: '<img' in h or 'not computed yet' in h)
    d.expect(d.selected(i, 1) is not None, 'nomus: no method selected after the setting changed')

def klom_checks(d:Driver, i:int):
    "It opens the stored run (named in its title) on a histogram; a row and a forget set change the histogram."
    html = d.cells.nth(i).locator('.widget-html'); title = html.first.inner_text() if html.count() else ''
    d.expect(KLOM_SETTING in title, f"klom: the explorer did not open the stored run {KLOM_SETTING!r} (title {title!r})")
    d.expect('<img' in d.out(i).inner_html(), 'klom: no histogram')
    d.changes('klom_row', i, lambda: d.sel(i, 1).select_option(label='SCRUB'), lambda h: '<img' in h)
    d.changes('klom_forget', i, lambda: d.sel(i, 0).select_option(label='nn_30'), lambda h: '<img' in h)

_PEARSON = re.compile(r'pearson_statistic\s+(-?[0-9.]+(?:e[-+]?\d+)?)')

def icare_checks(d:Driver, i:int):
    "The template name fits; the defaults compute; two metrics differ; the attributes follow the template."
    cell, done = d.cells.nth(i), lambda h: '<img' in h or 'Error' in h
    label = lambda name: cell.locator('.widget-label', has_text=re.compile(f'^{name}$'))
    compute = lambda: cell.get_by_role('button', name='compute').click()
    fit = d.sel(i, 0).evaluate(_FITS)
    d.expect(fit['text'] <= fit['room'], f"icare: the template name is cut off ({fit['text']} px of text in {fit['room']} px)")
    d.changes('icare_first_compute', i, compute, done); text = d.text(i)   # the defaults, as it opens
    d.expect('pearson_statistic' in text and 'Error' not in text,
             f"icare: the first compute with the defaults fails: {text.strip()[:160]!r}")
    d.sel(i, 0).select_option(label='MetricMetricAlignment'); label('interference_entity_2').wait_for(timeout=30_000)
    m1, m2 = d.selected(i, 2), d.selected(i, 3)
    d.expect(m1 != m2, f"icare: MetricMetricAlignment starts with one metric twice ({m1!r})")
    d.changes('icare_metric_metric', i, compute, done); r = _PEARSON.search(d.text(i))
    d.expect(r is not None and abs(float(r[1])) < 0.99, f"icare: MetricMetricAlignment reads r = {r and r[1]}")
    d.sel(i, 0).select_option(label='SignificantRelationshipNumerical')
    label('interference_entity_2').wait_for(state='detached', timeout=30_000); label('attribute').wait_for(timeout=30_000)
    attrs = d.options(i, 3)
    d.expect('boldness' in attrs and 'family' not in attrs, f"icare: a numerical template is offered {attrs}")
    def pick(): d.sel(i, 2).select_option(label='Emitter average rmse'); d.sel(i, 3).select_option(label='boldness'); compute()
    d.changes('icare_compute', i, pick, done); text = d.text(i)
    d.expect('pearson_statistic' in text and re.search(r'significant\s+True', text) is not None,
             f"icare: the planted relationship (rmse ~ boldness) is not found: {text.strip()[:160]!r}")

CHECKS = dict(font=font_checks, nomus=nomus_checks, klom=klom_checks, icare=icare_checks)

def main(url:str, shots:str, report:str)->int:
    "Drive the notebook at `url`; write the report; 0 if there is no problem."
    from playwright.sync_api import sync_playwright
    os.makedirs(shots, exist_ok=True); t0 = time.time()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox'])
        pg = b.new_page(viewport={'width': 1280, 'height': 1800})   # tall: JupyterLab scrolls inside its own panel
        d = Driver(pg, shots)
        pg.on('pageerror', lambda e: BENIGN in str(e) or d.problems.append(f'page error: {e}'))
        pg.on('console', lambda m: m.type == 'error' and BENIGN not in m.text and d.problems.append(f'console: {m.text}'))
        pg.on('request', lambda r: r.url.startswith(LOCAL) or d.problems.append(f'external request: {r.url}'))
        try:
            pg.set_default_timeout(20_000)   # a missing element fails a check in 20 s, not Playwright's 30
            pg.goto(url); d.cells.first.wait_for(timeout=120_000)
            # the kernel is up and idle (the status bar says so): a restart asked earlier fails with "No kernel"
            pg.locator('#jp-main-statusbar').get_by_text(re.compile(r'\| Idle')).wait_for(timeout=120_000)
            pg.get_by_role('menuitem', name='Kernel', exact=True).click()    # a fresh kernel, as a user would
            pg.get_by_text('Restart Kernel and Run All Cells…').click()
            pg.locator('.jp-Dialog-button.jp-mod-accept').click(); t = time.time()
            shown = {}
            for i, name in enumerate(EXPLORERS, 1):   # the widgets, the text fallback or an error: whichever comes first
                shown[name] = d.shown(i); d.timings[f'{name} shown'] = round(time.time() - t, 1)
                d.expect(shown[name], f"{name}: the cell shows nothing (it never ran, or it ran without output)")
            pg.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', state='attached', timeout=300_000)
            time.sleep(1)
            text = pg.locator('.jp-Notebook').inner_text()
            d.expect('VBox(' not in text and 'Error displaying widget' not in text,
                     'widgets fell back to text (is the jupyter-widgets extension enabled?)')
            for i in range(len(EXPLORERS) + 1): d.shot(i, f'cell{i}_initial')
            for i, name in enumerate(EXPLORERS, 1):
                if shown[name] and d.cells.nth(i).locator('.widget-dropdown select').count(): d.check(name, i, CHECKS[name])
                else: d.problems.append(f"{name}: no widgets to check (see cell{i}_initial.png)")
            errs = pg.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
            d.problems += [f'notebook stderr or error output: {e.strip()[:300]}' for e in errs]
        except Exception as e:
            d.problems.append(f'driver: {type(e).__name__}: {e}')
            pg.screenshot(path=os.path.join(shots, 'page_failed.png'))
        finally:
            b.close()
    d.timings['total'] = round(time.time() - t0, 1)
    with open(report, 'w') as f: json.dump(dict(problems=d.problems, timings=d.timings, shots=d.saved), f, indent=1)
    return 1 if d.problems else 0

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--url', required=True); ap.add_argument('--shots', required=True)
    ap.add_argument('--report', required=True)
    a = ap.parse_args(); sys.exit(main(a.url, a.shots, a.report))
