"""The browser tier: the series in JupyterLab, driven through its real UI in headless Chromium.

- JupyterLab runs on 127.0.0.1 with a random port and token, its root a temporary folder holding a copy
  of the notebooks, its settings and workspaces in that folder too (nothing of the user's is read or written);
  extension manager read-only, no news, no update check: it contacts nothing outside.
- The browser is Debian's ``chromium`` (installed by scripts/setup.sh), launched by Playwright's Python API
  with ``executable_path``: nothing is downloaded. Every request to an address other than the server's is
  refused and reported as a failure.
- Screenshots go to ``$KINDLB_ARTIFACTS/browser`` (default ``runs/cluster-tier/browser``): one per step that matters,
  and one of the page whenever a test fails. A failure names the notebook, the cell (as JupyterLab numbers it:
  its position and its ``[n]`` prompt) and what was expected.
- The server and the browser are always stopped (fixtures with ``finally``), whatever happens in a test.

Tests marked ``cluster`` use the cluster tier's fixtures (tests/_cluster_tier.py, through tests/conftest.py).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from _cluster_tier import ARTIFACTS as TIER_ARTIFACTS

#: Debian's chromium (scripts/setup.sh), else another Chromium build already there; $KINDLB_CHROMIUM wins
CHROMIUM = os.environ.get("KINDLB_CHROMIUM") or next(
    (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome") if Path(p).exists()),
    "/usr/bin/chromium")
ARTIFACTS = (TIER_ARTIFACTS / "browser").resolve()
HERE = Path(__file__).resolve().parent

# Lab settings for a test: every cell in the DOM (no windowing), no news prompt, no autosave surprises.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """A JupyterLab server of our own: ``url(path)``, ``root`` (the notebooks' copy), ``log``."""

    def __init__(self, notebooks: Path, workdir: Path):
        self.port = _free_port()
        self.token = secrets.token_hex(24)
        self.root = workdir / "notebooks"
        shutil.copytree(notebooks, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.html"))
        settings = workdir / "settings"
        for name, value in SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(value))
        self.log = ARTIFACTS / "jupyterlab.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(workdir / "config"), JUPYTERLAB_SETTINGS_DIR=str(settings),
                   JUPYTERLAB_WORKSPACES_DIR=str(workdir / "workspaces"), JUPYTER_RUNTIME_DIR=str(workdir / "runtime"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
             f"--port={self.port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={self.root}", "--LabApp.extension_manager=readonly", "--LabApp.news_url=None",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            env=env, stdin=subprocess.DEVNULL, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True)

    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "lab") -> str:
        return f"{self.base()}/{path}?token={self.token}"

    def wait_ready(self, timeout: float = 90) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({self.proc.returncode}); its log: {self.log}")
            try:
                opener.open(self.url("api/status"), timeout=2).read()
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer on {self.base()} in {timeout:.0f} s; its log: {self.log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the server and the kernels it started
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@pytest.fixture(scope="session")
def lab_server():
    """JupyterLab on 127.0.0.1 (random port and token), root = a temporary copy of the notebooks."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no browser at {CHROMIUM}: run `make setup` (installs Debian's chromium)")
    from kindlb_helpers._tools.runner import notebooks_dir

    workdir = Path(tempfile.mkdtemp(prefix="kindlb-browser-"))
    server = None
    try:
        server = LabServer(notebooks_dir(), workdir)
        server.wait_ready()
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, through Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    chromium = None
    try:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
    finally:
        if chromium is not None:
            chromium.close()
        pw.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def lab(request, lab_server, browser):
    """A fresh browser page on the lab; a screenshot of it when the test fails; the page always closed."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    session = Lab(page, lab_server, request.node.name)
    try:
        yield session
    finally:
        rep = getattr(request.node, "rep_call", None)
        try:
            if rep is not None and rep.failed:
                session.shot("FAILED")
        finally:
            session.shutdown_kernels()
            context.close()
        if session.outside and not (rep is not None and rep.failed):
            pytest.fail(f"the page asked for addresses outside the lab server: {sorted(set(session.outside))}")


class Lab:
    """JupyterLab in one page, used as Galata does: menus, the command palette, clicks and keys."""

    def __init__(self, page, server: LabServer, test: str):
        self.page, self.server, self.test = page, server, test
        self.notebook = None
        self.outside: list[str] = []
        self.console_errors: list[str] = []
        self.shots: list[Path] = []
        self.workspace = re.sub(r"[^A-Za-z0-9]+", "-", test).strip("-")
        for old in ARTIFACTS.glob(f"{test}-*.png"):  # this test's screenshots of an earlier run
            old.unlink()
        page.route("**/*", self._route)
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.server.base() + "/") or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    # --- the notebook -------------------------------------------------------------------------------

    def open(self, notebook: str):
        """Open NOTEBOOK (a file in the lab's root) and wait for its kernel to be idle."""
        self.notebook = notebook
        # a workspace of its own, reset: only this notebook open, whatever an earlier page left
        self.page.goto(f"{self.server.base()}/lab/workspaces/{self.workspace}/tree/{notebook}?reset&token={self.server.token}")
        self.page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        expected = len(self.sources())
        self.page.wait_for_function(f"() => document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').length == {expected}",
                                    timeout=30_000)
        self.page.locator("#jp-main-statusbar", has_text=re.compile(r"\| Idle")).wait_for(
            timeout=120_000)  # the kernel started and answered (the status bar, as Galata reads it)
        self.wait_idle(60)
        return self

    def cells(self):
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook > .jp-Cell, "
                                 ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-viewport > .jp-Cell")

    def sources(self) -> list[str]:
        """Each cell's source, from the notebook file the lab opened (the cells as saved; indexes match the page)."""
        import nbformat

        return [c.source for c in nbformat.read(self.server.root / self.notebook, as_version=4).cells]

    def find(self, needle: str) -> int:
        """The index of the first cell whose source contains NEEDLE (fails naming the notebook)."""
        for i, src in enumerate(self.sources()):
            if needle in src:
                return i
        raise AssertionError(f"{self.notebook}: no cell contains {needle!r}")

    def cell(self, i: int):
        return self.cells().nth(i)

    def where(self, i: int) -> str:
        """A cell as JupyterLab numbers it: position (1-based, as the status bar's 'Cell i/N'), prompt, first line."""
        loc = self.cell(i)
        prompt = loc.locator(".jp-InputPrompt").first.inner_text().strip() if loc.count() else ""
        first = (self.sources()[i].strip().splitlines() or [""])[0]
        return f"{self.notebook} cell {i + 1} {prompt} `{first[:70]}`".replace("  ", " ")

    def expect(self, ok: bool, i: int, expected: str, seen: str = "") -> None:
        """Fail naming notebook, cell and expectation (and what was seen), with a screenshot."""
        if not ok:
            shot = self.shot("expectation")
            raise AssertionError(f"{self.where(i)}: expected {expected}" + (f"; saw: {seen[:400]!r}" if seen else "")
                                 + f" (screenshot {shot})")

    def errors(self) -> list[tuple[int, str]]:
        """(cell index, text) of every error output on the page (a traceback or an ``XxxError: ...`` line)."""
        found = self.page.evaluate("""() => Array.from(document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')).map((c, i) => [i, Array.from(c.querySelectorAll(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")).map(o => o.innerText).join('\\n')])""")
        return [(i, t) for i, t in found if re.search(r"Traceback|^\w*(Error|Exception)\b", t, re.M)]

    def output_text(self, i: int) -> str:
        """Cell I's outputs as text, without their [n] prompts."""
        return "\n".join(self.cell(i).locator(".jp-OutputArea-output").all_inner_texts())

    # --- running --------------------------------------------------------------------------------------

    def menu(self, top: str, item: str) -> None:
        """Click a menu bar entry, then one of its items (as a learner does)."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).first.click()

    def palette(self, command: str) -> None:
        """Run a command by its label through the command palette (Ctrl+Shift+C)."""
        self.page.keyboard.press("Control+Shift+c")
        box = self.page.locator(".lm-CommandPalette-input")
        box.fill(command)
        self.page.locator(".lm-CommandPalette-item:not(.lm-mod-disabled)",
                          has_text=re.compile(f"^{re.escape(command)}")).first.click()

    def busy(self) -> bool:
        return self.page.evaluate("""() => {
            const prompts = Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputPrompt'));
            if (prompts.some(p => p.textContent.includes('*'))) return true;
            const bar = document.querySelector('#jp-main-statusbar');
            return !bar || !/[|] Idle/.test(bar.innerText);
        }""")

    def wait_idle(self, timeout: float = 300) -> None:
        """Until no cell shows [*] and the kernel is idle, twice in a row."""
        deadline, calm = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            calm = 0 if self.busy() else calm + 1
            if calm >= 3:
                return
            self.page.wait_for_timeout(300)
        shot = self.shot("timeout")
        raise AssertionError(f"{self.notebook}: still running after {timeout:.0f} s (screenshot {shot})")

    def run_all(self, timeout: float = 300) -> None:
        """Run ▸ Run All Cells, and wait until the kernel is done."""
        self.menu("Run", "Run All Cells")
        self.page.wait_for_timeout(500)
        self.wait_idle(timeout)

    def select(self, i: int) -> None:
        """Select cell I in command mode (click its prompt area, then Escape)."""
        self.cell(i).scroll_into_view_if_needed()
        self.cell(i).locator(".jp-InputPrompt").first.click()
        self.page.keyboard.press("Escape")

    def run_cell(self, i: int, timeout: float = 120) -> None:
        """Select cell I and press Shift+Enter; wait for the kernel."""
        self.select(i)
        self.page.keyboard.press("Shift+Enter")
        self.page.wait_for_timeout(300)
        self.wait_idle(timeout)

    def type_at_end(self, i: int, text: str) -> None:
        """Type TEXT at the end of cell I's source, key by key (the editor's own auto-indent applies)."""
        editor = self.cell(i).locator(".cm-content").first
        editor.scroll_into_view_if_needed()
        editor.click()
        self.page.keyboard.press("Control+End")
        self.page.keyboard.type(text)
        self.page.keyboard.press("Escape")

    def replace_source(self, i: int, text: str) -> None:
        """Select all of cell I's source and type TEXT instead."""
        editor = self.cell(i).locator(".cm-content").first
        editor.scroll_into_view_if_needed()
        editor.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.press("Delete")
        self.page.keyboard.type(text)
        self.page.keyboard.press("Escape")

    def add_cell_below(self, i: int, text: str) -> int:
        """Select cell I, press B (a new code cell below), type TEXT; the new cell's index."""
        self.select(i)
        self.page.keyboard.press("b")
        self.page.keyboard.press("Enter")
        self.page.keyboard.type(text)
        self.page.keyboard.press("Escape")
        return i + 1

    # --- evidence -------------------------------------------------------------------------------------

    def shot(self, what: str, locator=None) -> Path:
        """A screenshot (of the page, or of LOCATOR) under the artefacts, named by test and step."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.test}-{len(self.shots):02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', what)}.png"
        try:
            (locator or self.page).screenshot(path=str(path))
        except Exception as exc:  # a screenshot must never hide the real failure
            path = Path(f"(no screenshot: {exc.__class__.__name__})")
        self.shots.append(path)
        return path

    def shutdown_kernels(self) -> None:
        """Shut down every kernel this page started (the server keeps running for the next test)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            kernels = json.loads(opener.open(self.server.url("api/kernels"), timeout=5).read())
            for k in kernels:
                req = urllib.request.Request(self.server.url(f"api/kernels/{k['id']}"), method="DELETE")
                opener.open(req, timeout=10).read()
        except OSError:
            pass
