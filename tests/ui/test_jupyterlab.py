"""The front-end as a learner sees it: JupyterLab in a headless chromium, driven by Playwright.

Run by ``make test-ui`` (skipped elsewhere). It needs Debian's chromium (``apt-get install
chromium``; no browser is downloaded) and ``pip install -r tests/ui/requirements.txt``.

1. Notebook 06 on the smoke profile, offline, with tqdm enabled and Jupyter's inline matplotlib
   backend: Run > Run All Cells, then what is on screen: the Trainer's progress bar (and no
   library tqdm bar: they are quieted), the loss figure as an image, no error output, none of the silenced noise.
2. Notebook 02 with ``COURSE_PROFILE=bogus``: the course error's text is on screen.

Screenshots go to ``$COURSE_OUTPUT_DIR`` (``make test-ui``: ``outputs/course-ui/``). The waits are
generous but bounded; nothing here asserts a duration. Each JupyterLab is shut down at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OUT = Path(os.environ.get("COURSE_OUTPUT_DIR") or REPO / "outputs" / "course-ui").resolve()
SERVER_START_S = 180      # JupyterLab up and answering
KERNEL_READY_S = 300      # notebook open, kernel idle
RUN_ALL_S = 1800          # notebook 06 on a busy 2-core CPU takes a few minutes; bounded anyway

pytestmark = pytest.mark.skipif(os.environ.get("COURSE_UI_TEST") != "1",
                                reason="the browser test runs with `make test-ui`")

# JupyterLab settings for a reproducible, offline, read-only session: every cell in the DOM (no
# windowing), no autosave (the notebooks are copies anyway), no news or update checks.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}


def _learner_env(profile: str, course_output: Path) -> dict[str, str]:
    """Like the Makefile's TEST_ENV (smoke, offline, network blocked) but with progress bars on
    and Jupyter's inline backend, as in a learner's JupyterLab."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TQDM_DISABLE", "MPLBACKEND", "PYTHONWARNINGS", "JUPYTER_PLATFORM_DIRS",
                        "COURSE_FULL_TRACEBACKS")}
    env.update({
        "COURSE_PROFILE": profile, "COURSE_OUTPUT_DIR": str(course_output),
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1", "COURSE_BLOCK_NETWORK": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests" / "netguard")]),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    })
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # loopback only
        return response.read()


@contextmanager
def jupyterlab(name: str, profile: str):
    """A JupyterLab on a loopback port with a token, serving a copy of the notebooks."""
    home = OUT / name
    shutil.rmtree(home, ignore_errors=True)
    root = home / "notebooks"
    shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = home / "settings"
    for file, value in SETTINGS.items():
        (settings / file).parent.mkdir(parents=True, exist_ok=True)
        (settings / file).write_text(json.dumps(value))
    env = _learner_env(profile, home / "course-output")
    env.update({"JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime")})
    token, port = secrets.token_hex(16), _free_port()
    log = (home / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={settings}",
         f"--LabApp.workspaces_dir={home / 'workspaces'}", "--LabApp.expose_app_in_browser=True",
         "--LabApp.extension_manager=readonly", "--allow-root"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({server.returncode}); see {home / 'jupyterlab.log'}")
            try:
                _get(f"{base}/api/status?token={token}")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not answer in {SERVER_START_S} s; see {home / 'jupyterlab.log'}")
                time.sleep(1)
        yield base, token
    finally:
        _stop(server, base, token, home / "runtime")
        log.close()


def _stop(server: subprocess.Popen, base: str, token: str, runtime: Path) -> None:
    """Shut JupyterLab down through its API (that also stops its kernels), then make sure."""
    if server.poll() is None:
        try:
            request = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(request, timeout=10).close()
            server.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            pass
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
    # kernels run in their own session: any that outlived the server (their command line names
    # this server's runtime folder) are stopped by their process id
    for pid in _processes_naming(runtime):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _processes_naming(folder: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if str(folder).encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids


def _open(browser, base: str, token: str, notebook: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # nothing but the local JupyterLab: any other request is refused
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base)
               else route.abort())
    page.on("console", lambda m: m.type == "error" and print(f"  [browser console] {m.text[:300]}"))
    page.goto(f"{base}/lab/tree/{notebook}?token={token}", wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_function(
        """(name) => {
            const app = window.jupyterapp;
            const panel = app && app.shell.currentWidget;
            const session = panel && panel.sessionContext && panel.sessionContext.session;
            return !!(panel && panel.context && panel.context.path.endsWith(name) &&
                      session && session.kernel && session.kernel.status === 'idle');
        }""", arg=notebook, timeout=KERNEL_READY_S * 1000, polling=1000)
    return page


def _run_all(page) -> None:
    """Run > Run All Cells, as a learner does, then wait until no cell is queued or running
    (``[*]``) and the kernel is idle: every cell ran, or one failed and the rest were cancelled."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(
        """() => {
            const panel = window.jupyterapp.shell.currentWidget;
            const prompts = [...panel.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                .map(p => p.textContent.trim());
            return panel.sessionContext.session.kernel.status === 'idle' &&
                   prompts.some(p => /\\[\\d+\\]/.test(p)) && !prompts.some(p => p.includes('*'));
        }""", timeout=RUN_ALL_S * 1000, polling=2000)


def _outputs(page) -> list[dict]:
    """Every output of every code cell, as the notebook model holds it (what the page renders)."""
    return page.evaluate(
        """() => window.jupyterapp.shell.currentWidget.content.widgets
                 .filter(c => c.model.type === 'code')
                 .flatMap((c, i) => c.model.outputs.toJSON().map(o => ({cell: i, ...o})))""")


def _cell(page, text: str):
    """The code cell whose source contains ``text``."""
    return page.locator(".jp-CodeCell").filter(has=page.locator(".jp-InputArea", has_text=text)).first


def _shoot(page, element, name: str) -> None:
    """Scroll ``element`` to the top of the notebook and take a screenshot of the window."""
    element.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)  # let the scroll settle before the picture (not a synchronisation)
    page.screenshot(path=str(OUT / name))


def test_notebook_06_shows_progress_bars_and_the_loss_figure(browser):
    started = time.monotonic()
    with jupyterlab("lab-smoke", "smoke") as (base, token):
        page = _open(browser, base, token, "06_training.ipynb")
        try:
            page.screenshot(path=str(OUT / "06_opened.png"))
            _run_all(page)
            print(f"  notebook 06 ran in JupyterLab in {time.monotonic() - started:.0f} s (not asserted)")
            outputs = _outputs(page)
            for o in outputs:
                if o["output_type"] == "stream" and o["name"] == "stderr":
                    print(f"  [stderr, cell {o['cell']}] {''.join(o['text'])[:300]!r}")

            # the screenshots first, so that a failure below still leaves them to look at
            widget_bars = page.locator(".jp-OutputArea-output .widget-hprogress")
            trainer_bars = page.locator(".jp-OutputArea-output progress")
            figure_cell = _cell(page, "loss_curve(")
            if widget_bars.count():
                _shoot(page, widget_bars.first.locator("xpath=ancestor::div[contains(@class,'jp-CodeCell')]"),
                       "06_tqdm_widget.png")
            finished = [i for i in range(trainer_bars.count())
                        if int(trainer_bars.nth(i).get_attribute("max") or 0) > 1
                        and trainer_bars.nth(i).get_attribute("value") == trainer_bars.nth(i).get_attribute("max")]
            if finished:
                _shoot(page, trainer_bars.nth(finished[0]).locator(
                    "xpath=ancestor::div[contains(@class,'jp-OutputArea')][1]"), "06_training_progress.png")
            if figure_cell.count():
                _shoot(page, figure_cell, "06_loss_figure.png")

            errors = [o for o in outputs if o["output_type"] == "error"]
            assert not errors, f"error output in notebook 06: {[(e['ename'], e['evalue']) for e in errors]}"
            # progress bars: the libraries' tqdm bars (datasets, weight loading) are off, since a saved notebook
            # shows them frozen at 0 % (course_utils.quiet_library_bars); the Trainer's HTML <progress> stays
            assert widget_bars.count() == 0, "a library's tqdm bar is on screen: quiet_library_bars missed it"
            assert finished, "no finished training progress bar (the Trainer's <progress>) on screen"
            assert trainer_bars.nth(finished[0]).is_visible()

            # the loss figure, as an image that the browser decoded
            assert figure_cell.count(), "no cell of notebook 06 calls loss_curve("
            image = figure_cell.locator(".jp-OutputArea-output img").first
            assert image.is_visible(), "the loss figure is not shown as an image"
            assert image.evaluate("img => img.complete && img.naturalWidth > 100 && img.naturalHeight > 100")
            assert (image.get_attribute("src") or "").startswith("data:image/png")

            # noise that course_utils silences, and tqdm's complaint when ipywidgets is missing
            text = page.locator(".jp-NotebookPanel").inner_text()
            for noise in ("No module named 'kernels'", "is_gradient_checkpointing", "IProgress not found"):
                assert noise not in text, f"{noise!r} is on screen"
        finally:
            page.close()


def test_a_bogus_profile_shows_the_course_error(browser):
    with jupyterlab("lab-bogus", "bogus") as (base, token):
        page = _open(browser, base, token, "02_data_exploration.ipynb")
        try:
            _run_all(page)
            cell = _cell(page, "get_profile()")
            _shoot(page, cell, "bogus_profile_error.png")
            outputs = [o for o in _outputs(page) if o["output_type"] in ("error", "stream")]
            kernel_said = " ".join(json.dumps(o) for o in outputs)
            cause, fix = "unknown profile 'bogus'", "set COURSE_PROFILE to one of"
            on_screen = cell.locator(".jp-OutputArea-output")
            assert on_screen.filter(has_text=cause).count() and on_screen.filter(has_text=fix).count(), (
                "the course error is not on screen under the cell that calls get_profile(); "
                f"the kernel's outputs {'do' if cause in kernel_said else 'do not'} hold it: {kernel_said[:600]}")
            assert on_screen.filter(has_text=cause).first.is_visible()
        finally:
            page.close()
