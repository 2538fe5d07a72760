"""The panel in a real browser: JupyterLab, headless Chromium, a notebook of two panels.

Starts JupyterLab through ``python -m lab lab`` on loopback with a token, writes a small notebook
under test-artifacts/ (a single-agent panel that trains a tiny run to its end, then an A/B panel),
opens it in Debian's Chromium through Playwright and runs all cells. It checks that the single
panel finished and drew its charts, then drives the A/B panel as a person would: a long budget
typed into the Run tab, Start, a line per agent, agent B picked, a new sigma typed into its slider,
and B's readout (and only B's) showing it, then Stop. The notebook is the test's own, so the
tutorials can change freely. The A/B panel's screenshot is saved to test-artifacts/panel_ab.png
(and, as a 64-colour PNG, to assets/panel_ab.png with LAB_UPDATE_SCREENSHOT=1;
LAB_SCREENSHOT_STEPS=20000 trains that many more steps first, so the charts have something to show).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium"))
NOTEBOOK = f"test-artifacts/browser/panels_{os.getpid()}.ipynb"
CELLS = """
from lab.presets import preset
from widgets import TrainingPanel

config = preset("tiny", **{{"run.out_dir": {out!r}, "run.total_steps": 600, "run.eval_every": 300,
                            "run.eval_episodes": 1, "env.max_episode_steps": 150}})
single = TrainingPanel(config, name="single")
single
# %%
single.start()
single.wait()
# %%
ab = TrainingPanel(config, agents=2, name="ab")
ab
# %%
ab.start()
ab.wait()
"""
"""The notebook the browser runs: its cells, split at "# %%"."""
ARTIFACTS = ROOT / "test-artifacts"
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer {url} within {timeout:.0f} s")


@contextmanager
def running_jupyterlab(tmp_path: Path, notebook: str, smoke: bool = True) -> Iterator[tuple[str, str]]:
    """JupyterLab on loopback with a token and quiet settings; kernels run LAB_SMOKE=1 budgets when smoke.

    Yields (base URL, token); on exit the server is killed and ``notebook`` put back as committed.
    """
    port, token = _free_port(), secrets.token_hex(16)
    settings = tmp_path / "settings"
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    # no "Select Kernel" dialog; every cell attached to the page, so every prompt can be read
    tracker.write_text(json.dumps({"autoStartDefaultKernel": True, "windowingMode": "none"}))
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
           "JUPYTER_TOKEN": token, "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_PLATFORM_DIRS": "1",
           "TMPDIR": str(tmp_path)}  # the notebook's smoke runs land here, not in /tmp
    env.pop("LAB_SMOKE", None)
    if smoke:
        env["LAB_SMOKE"] = "1"
    log = (tmp_path / "jupyterlab.log").open("w")
    committed = (ROOT / notebook).read_bytes()  # JupyterLab autosaves the notebook with outputs; put it back
    proc = subprocess.Popen([sys.executable, "-m", "lab", "lab", "--no-browser", "--port", str(port),
                             "--ip", "127.0.0.1"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}", proc)
        yield f"http://127.0.0.1:{port}", token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if (ROOT / notebook).read_bytes() != committed:
            from lab.io import atomic_write

            atomic_write(ROOT / notebook, lambda fh: fh.write(committed))
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(tmp_path / "jupyterlab.log", ARTIFACTS / "jupyterlab.log")


def write_notebook(path: Path, source: str) -> None:
    """A notebook of ``source``'s cells (split at "# %%"), with kernelspec metadata."""
    import nbformat

    cells = [nbformat.v4.new_code_cell(cell.strip()) for cell in source.split("# %%")]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab with LAB_SMOKE=1 kernels serving the test's notebook; killed (and the notebook removed) at
    teardown."""
    write_notebook(ROOT / NOTEBOOK, CELLS.format(out=str(tmp_path / "runs")))
    try:
        with running_jupyterlab(tmp_path, NOTEBOOK) as server:
            yield server
    finally:
        (ROOT / NOTEBOOK).unlink(missing_ok=True)


def open_chromium(playwright):
    """Debian's Chromium, headless, as these checks drive it."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-dev-shm-usage"])


def open_notebook(page, base: str, token: str, notebook: str) -> None:
    """Open the notebook in JupyterLab and wait until its kernel is idle."""
    page.goto(f"{base}/lab/tree/{notebook}?token={token}")
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for()
    _wait_for_idle_kernel(page)


def test_the_single_and_the_ab_panel_work_in_jupyterlab_in_chromium(jupyterlab):
    assert CHROMIUM.exists(), (f"{CHROMIUM} is missing: the browser test needs Debian's chromium "
                               "(apt-get install -y chromium), or set LAB_CHROMIUM to a Chromium binary")
    from playwright.sync_api import expect, sync_playwright

    base, token = jupyterlab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = open_chromium(p)
        page = browser.new_page(viewport={"width": 1500, "height": 1700})
        page.set_default_timeout(120_000)
        try:
            open_notebook(page, base, token, NOTEBOOK)

            # Run > Run All Cells, and wait until every code cell has run
            run_all_cells(page)
            page.screenshot(path=str(ARTIFACTS / "panels-after-run-all.png"))
            assert notebook_tracebacks(page) == []

            # the single-agent panel trained to its end and drew its charts, with no agent selector
            single, panel = page.locator(".lander-lab-panel").nth(0), page.locator(".lander-lab-panel").nth(1)
            expect(single.locator(".lab-status")).to_contain_text("finished")
            expect(single.locator(".lab-status")).to_contain_text("step 600 / 600")
            expect(single.locator(".lab-agent-select")).to_be_hidden()
            page.wait_for_function(_LINES.replace("NTH", "0").replace("MIN", "1"))

            # the A/B panel: its selector, sliders, buttons and the Plotly chart are in the DOM
            expect(panel.locator(".widget-slider").first).to_be_visible()
            expect(panel.locator(".widget-button", has_text="Start")).to_be_visible()
            expect(panel.locator(".js-plotly-plot").first).to_be_visible()
            selector = panel.locator(".lab-agent-select")
            expect(selector.locator("button", has_text="B (seed 1)")).to_be_visible()
            page.wait_for_function(_LINES.replace("NTH", "1").replace("MIN", "2"))  # the notebook's run drew A and B

            # a long run, so it trains while the slider moves (Run tab: applies on restart, to every agent)
            panel.locator(".lm-TabBar-tab", has_text="Run (applies on restart)").click()
            total = panel.locator(".widget-inline-hbox", has=page.locator("label", has_text="total steps"))
            total.locator("input").fill("1000000")
            total.locator("input").press("Enter")
            expect(panel.locator(".lab-readout")).to_contain_text("applies on restart: run.total_steps")

            # Start, and wait until the new run draws a line for each agent
            panel.locator(".widget-button", has_text="Start").click()
            expect(panel.locator(".lab-status")).to_contain_text("running")
            expect(panel.locator(".lab-status")).to_contain_text("/ 1,000,000")
            page.wait_for_function(_LINES.replace("NTH", "1").replace("MIN", "2"))

            # pick agent B, move its sigma slider (type into the readout); only B's sigma changes
            sigma_a = panel.locator(".lab-value[data-name='noise.sigma'][data-agent='0']").inner_text()
            selector.locator("button", has_text="B (seed 1)").click()
            panel.locator(".lm-TabBar-tab", has_text="Exploration").click()
            sigma = panel.locator(".widget-slider", has=page.locator("label", has_text="sigma"))
            readout = sigma.locator(".widget-readout")
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("0.42")
            page.keyboard.press("Enter")
            # the change goes browser -> kernel -> training thread -> table: allow for a kernel starved of CPU
            applied = {"timeout": 60_000}
            expect(panel.locator(".lab-value[data-name='noise.sigma'][data-agent='1']")).to_have_text("0.42",
                                                                                                      **applied)
            expect(panel.locator(".lab-readout")).to_contain_text(
                re.compile(r"B step [\d,]+: noise\.sigma [\d.]+→0\.42"), **applied)
            assert panel.locator(".lab-value[data-name='noise.sigma'][data-agent='0']").inner_text() == sigma_a
            # let more points and the change marker land (longer for the README's screenshot)
            more = int(os.environ.get("LAB_SCREENSHOT_STEPS", "300"))
            page.wait_for_function(_STATUS_PAST, arg=[max(_agent_steps(panel)) + more])

            # the screenshot, for the test artifacts and (on request) the README
            panel.scroll_into_view_if_needed()
            shot = ARTIFACTS / "panel_ab.png"
            panel.screenshot(path=str(shot))
            if os.environ.get("LAB_UPDATE_SCREENSHOT") == "1":
                (ROOT / "assets").mkdir(exist_ok=True)
                _save_small_png(shot, ROOT / "assets" / "panel_ab.png")
            assert shot.stat().st_size > 20_000

            panel.locator(".widget-button", has_text="Stop").click()
            expect(panel.locator(".lab-status")).to_contain_text("stopped", timeout=60_000)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _wait_for_idle_kernel(page) -> None:
    """The notebook's kernel has started and is idle (the status bar names it)."""
    page.locator(".jp-StatusBar-TextItem", has_text="Python 3 (ipykernel) | Idle").first.wait_for()
    page.wait_for_timeout(1000)


_LINES = """() => [...document.querySelectorAll('.lander-lab-panel')[NTH].querySelectorAll(
        '.js-plotly-plot .cartesianlayer .subplot.xy .scatterlayer .trace path.js-line')]
    .filter(p => (p.getAttribute('d') || '').length > 2).length >= MIN"""
"""Panel NTH has at least MIN drawn lines in its first chart (Return: each agent's moving mean)."""
_STATUS_PAST = """([step]) => {
    const s = document.querySelectorAll('.lander-lab-panel')[1].querySelector('.lab-status');
    const steps = [...(s ? s.textContent : '').matchAll(/step ([\\d,]+) \\//g)].map(m => +m[1].replace(/,/g, ''));
    return steps.length > 0 && Math.min(...steps) >= step; }"""
"""Every agent's status row shows an env step of at least ``step``."""


def _agent_steps(panel) -> list[int]:
    text = panel.locator(".lab-status").inner_text()
    return [int(m.replace(",", "")) for m in re.findall(r"step ([\d,]+) /", text)]


def _save_small_png(source: Path, target: Path) -> None:
    """The screenshot as a 64-colour PNG (a fraction of the size), written atomically."""
    from PIL import Image

    from lab.io import atomic_write

    image = Image.open(source).convert("RGB").quantize(colors=64)
    atomic_write(target, lambda fh: image.save(fh, format="PNG", optimize=True))
_PROMPTS = "[...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim())"
_STARTED = f"() => {_PROMPTS}.some(t => /\\[(\\*|\\d+)\\]/.test(t))"
_DONE = f"""() => {{ const prompts = {_PROMPTS};
    const failed = [...document.querySelectorAll("{STDERR}")].some(o => /Traceback/.test(o.textContent));
    return failed || (prompts.length > 0 && prompts.every(t => /\\[\\d+\\]/.test(t))); }}"""


def run_all_cells(page, timeout: float = 240.0) -> None:
    """Run > Run All Cells from the menu, then wait until no cell is queued or running, or one failed."""
    for attempt in range(2):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(_STARTED, timeout=30_000)
            break
        except Exception:  # noqa: BLE001 - a click that raced the kernel's start: try the menu once more
            if attempt:
                raise
            page.keyboard.press("Escape")
    page.wait_for_function(_DONE, timeout=timeout * 1000)


def notebook_tracebacks(page) -> list[str]:
    """Tracebacks printed in cell outputs (a failed cell shows one; a warning does not)."""
    return [t for t in page.locator(STDERR).all_inner_texts() if "Traceback" in t]
