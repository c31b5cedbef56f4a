"""The notebooks and the lecture demos in a real browser, as students and instructors use them.

JupyterLab runs on 127.0.0.1 (a free port, a token) in a temporary folder holding copies of the
solution notebooks. For every notebook in solutions/, Chromium (Debian's /usr/bin/chromium, driven
by playwright; no browser is downloaded) opens it, runs all cells from the Run menu, and checks:
- no cell wrote to stderr or raised (JupyterLab shows both as stderr outputs);
- no widget failed to display ("Error displaying widget", "Model not found");
- each playground the notebook calls is on the page with a picture, and reacts: a slider is
  dragged or a button pressed, and the picture's bytes (or the drawn graph) change.
The lecture demos (`course demo NAME`, Voila) get the same playground checks, and their code must
not be on the page. Screenshots of every playground land in test-artifacts/browser/.

A notebook's playgrounds are found in its source (tests/playgrounds.py): the calls of the functions
in PLAYGROUNDS, in the order they appear in the cell, match the widgets in that cell's output. A new
module is covered as soon as its notebook is in solutions/; a new playground needs one line in
PLAYGROUNDS.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from course.demos import DEMOS, is_available
from nbgrader_harness import ROOT, solution_notebooks
from playgrounds import PLAYGROUNDS, REQUIRED, Playground, playground_calls

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
pytest.importorskip("jupyterlab", reason="jupyterlab is not installed (pip install -e '.[dev]')")

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
SERVER_START_SECONDS = 90
NOTEBOOK_SECONDS = 300      # running all cells of one notebook; long training is the notebook's cost
REACT_SECONDS = 20          # from a slider drag or a click to a changed picture
WIDGET_ERRORS = ("Error displaying widget", "Model not found")


# ---------------------------------------------------------------------------------------------
# servers and the browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process in its own process group, its output in a log file."""

    def __init__(self, command, cwd, env, log: Path, ready_url: str):
        self.log = log
        self.ready_url = ready_url
        self._log_file = open(log, "w")
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=self._log_file,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_until_ready()

    def log_tail(self, chars=3000) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")[-chars:]

    def _wait_until_ready(self):
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.ready_url, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"no answer from {self.ready_url} after {SERVER_START_SECONDS} s:\n{self.log_tail()}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the server shuts its kernels down
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever of this group is left (kernels), by the group's id
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log_file.close()


def isolated_env(folder: Path) -> dict:
    """Environment in which Jupyter reads no user configuration, settings or kernels of this machine.

    JupyterLab settings: no notebook windowing (every cell stays in the page), no news fetching.
    """
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                 "JUPYTERLAB_WORKSPACES_DIR", "IPYTHONDIR"):
        env[name] = str(folder / name.lower())
    settings = folder / "lab-settings"
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    for plugin, text in [("@jupyterlab/notebook-extension/tracker", '{"windowingMode": "none"}'),
                         ("@jupyterlab/apputils-extension/notification",
                          '{"fetchNews": "false", "checkForUpdates": false}')]:
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env.pop("NBGRADER_EXECUTION", None)  # run as students do
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A Chromium browser context with a fresh profile."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver = sync_playwright().start()
    try:
        context = driver.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM),
            headless=True, args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000})
    except Exception:
        driver.stop()
        raise
    yield context
    context.close()
    driver.stop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving copies of the solution notebooks; yields (base URL, token, folder)."""
    folder = tmp_path_factory.mktemp("lab")
    notebooks = folder / "notebooks"
    for path in solution_notebooks():
        shutil.copytree(path.parent, notebooks / path.parent.name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.py", ".ipynb_checkpoints"))
    port, token = free_port(), os.urandom(16).hex()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
               "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}"]
    server = Server(command, notebooks, isolated_env(folder), folder / "jupyterlab.log",
                    f"{base}/api/status?token={token}")
    yield base, token, notebooks, server
    server.stop()


# ---------------------------------------------------------------------------------------------
# what a notebook shows


# ---------------------------------------------------------------------------------------------
# driving a playground (a locator of the element that holds its widget)

SNAPSHOT_JS = """
async (view) => {
  const hex = async (bytes) => Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
  const images = [];
  for (const img of view.querySelectorAll("img")) {
    if (!img.complete || img.naturalWidth === 0) return null;     // still loading
    const response = await fetch(img.src);
    images.push(await hex(await response.arrayBuffer()));
  }
  const graphics = [];
  for (const svg of view.querySelectorAll("svg")) {
    graphics.push(await hex(new TextEncoder().encode(svg.outerHTML)));
  }
  return {images, graphics};
}
"""


def snapshot(view):
    """SHA-256 of each picture's bytes and of each drawn SVG graph in the view; None while loading."""
    try:
        return view.evaluate(SNAPSHOT_JS)
    except Exception:  # an image replaced (its blob URL revoked) while it was being read
        return None


def wait_for_picture(view, what: str):
    """The view's snapshot once it shows at least one loaded picture or SVG drawing."""
    deadline = time.monotonic() + REACT_SECONDS
    while time.monotonic() < deadline:
        state = snapshot(view)
        if state and (state["images"] or state["graphics"]):
            return state
        time.sleep(0.25)
    raise AssertionError(f"{what}: no picture or graph drawing appeared")


def picture_changed(before, after) -> bool:
    """Pictures (PNG bytes) decide when there are any; otherwise the drawn graphs."""
    if after is None:
        return False
    if before["images"]:
        return after["images"] != before["images"]
    return after["graphics"] != before["graphics"]


def drag_first_slider(page, view) -> str:
    handles = view.locator(".noUi-handle:visible, .ui-slider-handle:visible")
    if handles.count() == 0:
        buttons = view.locator("button:enabled:visible")
        assert buttons.count(), "the playground has neither a slider nor an enabled button"
        label = buttons.first.inner_text().strip()
        buttons.first.click()
        return f"pressed {label!r} (no slider)"
    handle = handles.first
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    track = handle.evaluate(
        "h => { const t = h.closest('.noUi-target, .ui-slider') || h.parentElement;"
        " const r = t.getBoundingClientRect(); return {x: r.x, width: r.width}; }")
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # Towards the far end of the track, a third of its width.
    dx = track["width"] / 3 if x < track["x"] + track["width"] / 2 else -track["width"] / 3
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=8)
    page.mouse.up()
    return f"dragged a slider by {dx:+.0f} px"


def exercise(page, view, playground: Playground, artifact: str, react_seconds: float = REACT_SECONDS) -> str:
    """Act on the playground and check its picture changes; keep a screenshot. Returns what was done."""
    view.scroll_into_view_if_needed()
    before = wait_for_picture(view, playground.function)
    if playground.action == "drag":
        done = drag_first_slider(page, view)
    else:
        button = view.get_by_role("button", name=playground.action, exact=True)
        assert button.count() == 1, f"{playground.function}: no single {playground.action!r} button"
        button.click()
        done = f"pressed {playground.action!r}"
    deadline = time.monotonic() + react_seconds
    after = snapshot(view)
    while not picture_changed(before, after) and time.monotonic() < deadline:
        time.sleep(0.25)
        after = snapshot(view)
    time.sleep(0.3)  # let the last redraw land before the screenshot
    view.screenshot(path=str(ARTIFACTS / f"{artifact}.png"))
    assert picture_changed(before, after), f"{playground.function}: {done}, but the picture did not change"
    return done


def widget_error_texts(page, scope: str) -> list[str]:
    texts = page.locator(scope).all_inner_texts()
    return [t.strip()[:300] for t in texts if any(e.lower() in t.lower() for e in WIDGET_ERRORS)]


# ---------------------------------------------------------------------------------------------
# the notebooks in JupyterLab

# The notebook on show (other panels, if any, are hidden).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

WAIT_FOR_RUN_JS = """
() => {
  const prompts = [...document.querySelectorAll("PANEL .jp-Notebook .jp-CodeCell .jp-InputPrompt")]
      .map((p) => p.textContent.trim());
  const indicator = document.querySelector("PANEL .jp-Notebook-ExecutionIndicator");
  const idle = !indicator || indicator.dataset.status === "idle";
  const numbered = prompts.every((p) => /^\\[\\d+\\]:$/.test(p));
  const failed = document.querySelector('PANEL .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
  return idle && (numbered || (failed !== null && !prompts.includes("[*]:")));
}
""".replace("PANEL", PANEL)

STDERR_JS = """
() => [...document.querySelectorAll("PANEL .jp-Notebook .jp-Cell")].flatMap((cell, index) =>
  [...cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map((output) => `cell ${index}: ${output.innerText.trim().slice(0, 1500)}`))
""".replace("PANEL", PANEL)


def api(base: str, token: str, path: str, method: str = "GET"):
    """A call of the Jupyter server's REST API; the decoded JSON answer (None when empty)."""
    import json

    request = urllib.request.Request(f"{base}/api/{path}", method=method,
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


def session_of(base: str, token: str, notebook: str):
    """The notebook's session (with its kernel's model), or None before it exists."""
    return next((s for s in api(base, token, "sessions") if s["path"] == notebook), None)


def open_notebook(page, base: str, token: str, notebook: str, n_code_cells: int):
    """Open the notebook and wait until every code cell is on the page and its kernel is connected.

    Each notebook gets a workspace of its own, reset: JupyterLab would otherwise reopen the
    notebooks of earlier tests (and start their kernels again).
    """
    workspace = notebook.split("/")[0]
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={token}")
    page.wait_for_function(
        f"document.querySelectorAll('{PANEL} .jp-Notebook .jp-CodeCell').length === {n_code_cells}",
        timeout=SERVER_START_SECONDS * 1000)
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        session = session_of(base, token, notebook)
        kernel = session and session["kernel"]
        if kernel and kernel["connections"] >= 1 and kernel["execution_state"] == "idle":
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"the kernel of {notebook} was not ready after {SERVER_START_SECONDS} s")
    page.wait_for_selector(f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']",
                           timeout=SERVER_START_SECONDS * 1000)


RUN_STARTED_JS = """
() => [...document.querySelectorAll("PANEL .jp-Notebook .jp-CodeCell .jp-InputPrompt")]
        .some((p) => p.textContent.trim() !== "[ ]:")
""".replace("PANEL", PANEL)


def run_all_cells(page) -> int:
    """Run > Run All Cells, as a student does, then wait until the kernel is done.

    Returns how many times the menu item was chosen: a click that JupyterLab drops while the
    kernel connection settles (no cell queued after 15 s) is made once more.
    """
    for attempt in (1, 2):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
        try:
            page.wait_for_function(RUN_STARTED_JS, timeout=15_000, polling=250)
            break
        except Exception:
            if attempt == 2:
                raise AssertionError("Run > Run All Cells queued no cell, twice")
    page.wait_for_function(WAIT_FOR_RUN_JS, timeout=NOTEBOOK_SECONDS * 1000, polling=500)
    return attempt


@pytest.mark.parametrize("path", solution_notebooks(), ids=lambda p: p.parent.name)
def test_notebook_runs_in_jupyterlab_and_its_playgrounds_react(path, lab, browser):
    base, token, _, server = lab
    nb = nbformat.read(path, as_version=4)
    module = path.parent.name
    expected = [(i, playground_calls(c.source)) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    shown = [name for _, names in expected for name in names]
    missing = REQUIRED.get(module[:2], set()) - set(shown)
    assert not missing, f"{module} must show {sorted(missing)} (calls found: {shown})"

    page = browser.new_page()
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    try:
        started = time.perf_counter()
        open_notebook(page, base, token, f"{module}/{path.name}", sum(c.cell_type == "code" for c in nb.cells))
        clicks = run_all_cells(page)
        seconds = time.perf_counter() - started

        errors = page.evaluate(STDERR_JS)
        assert not errors, f"{module}: cells wrote to stderr or raised:\n" + "\n".join(errors)

        cells = page.locator(f"{PANEL} .jp-Notebook .jp-Cell")
        assert cells.count() == len(nb.cells), "JupyterLab shows a different number of cells"
        done = []
        for index, names in expected:
            views = cells.nth(index).locator(".jp-OutputArea-output:has(> .jupyter-widgets)")
            if names:  # widgets render after their cell has finished
                views.nth(len(names) - 1).wait_for(timeout=REACT_SECONDS * 1000)
            assert views.count() == len(names), (
                f"{module} cell {index} calls {names} but shows {views.count()} widget(s)")
            for k, name in enumerate(names):
                done.append(f"{name}: " + exercise(page, views.nth(k), PLAYGROUNDS[name], f"{module}-{name}"))
        problems = widget_error_texts(page, ".jp-OutputArea-output")
        assert not problems, f"{module}: widgets failed to display: {problems}"
        print(f"{module}: all cells ran in {seconds:.1f} s (Run All Cells chosen {clicks}x); "
              + ("; ".join(done) or "no playground"))
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"{module}-failure.png"), full_page=True)
        print("browser console errors:", *console_errors[-20:], sep="\n  ")
        print("JupyterLab log:\n" + server.log_tail())
        raise
    finally:
        page.close()
        session = session_of(base, token, f"{module}/{path.name}")
        if session:  # shut its kernel down: the next notebooks get the cores
            api(base, token, f"sessions/{session['id']}", method="DELETE")


BROKEN_CELLS = [
    'import sys\nprint("a warning on stderr", file=sys.stderr)',
    "import io\nimport ipywidgets as widgets\nfrom PIL import Image\n"
    "png = io.BytesIO()\nImage.new('RGB', (60, 40), 'orange').save(png, format='png')\n"
    "display(widgets.VBox([widgets.FloatSlider(description='unused'),"
    " widgets.Image(value=png.getvalue(), format='png')]))",
    'raise ValueError("a cell that fails")',
]


def test_the_checks_catch_stderr_an_error_and_a_picture_that_does_not_change(lab, browser):
    base, token, folder, _ = lab
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(code) for code in BROKEN_CELLS]
    (folder / "zz_broken").mkdir()
    nbformat.write(nb, folder / "zz_broken" / "broken.ipynb")
    page = browser.new_page()
    try:
        open_notebook(page, base, token, "zz_broken/broken.ipynb", len(nb.cells))
        run_all_cells(page)  # returns although the last cell failed
        errors = page.evaluate(STDERR_JS)
        assert len(errors) == 2, errors
        assert "a warning on stderr" in errors[0] and "a cell that fails" in errors[1]
        view = page.locator(f"{PANEL} .jp-OutputArea-output:has(> .jupyter-widgets)").first
        view.wait_for(timeout=REACT_SECONDS * 1000)
        with pytest.raises(AssertionError, match="did not change"):
            exercise(page, view, Playground("unlinked_slider", "drag"), "check-unlinked-slider",
                     react_seconds=3)
    finally:
        page.close()
        session = session_of(base, token, "zz_broken/broken.ipynb")
        if session:
            api(base, token, f"sessions/{session['id']}", method="DELETE")


# ---------------------------------------------------------------------------------------------
# the lecture demos in Voila


def start_demo_server(folder: Path, name: str | None) -> tuple[Server, str]:
    """`course demo [NAME] --no-browser` on a free port; returns the server and its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "course.cli", "demo", "--no-browser", f"--port={port}"]
    if name is not None:
        command.insert(4, name)
    base = f"http://127.0.0.1:{port}"
    server = Server(command, ROOT, isolated_env(folder), folder / "voila.log", f"{base}/")
    return server, base


@pytest.fixture(scope="module")
def all_demos(tmp_path_factory):
    """`course demo` without a name: one Voila server for every available demo."""
    server, base = start_demo_server(tmp_path_factory.mktemp("demos"), None)
    yield server, base
    server.stop()


def check_demo_page(page, demo, base_url: str, server: Server):
    """The page shows the demo's title and its playground, never its code. Returns the playground."""
    try:
        page.goto(base_url)
        view = page.locator(".jp-OutputArea-output:has(.jupyter-widgets)").first
        view.wait_for(timeout=SERVER_START_SECONDS * 1000)
        text = page.locator("body").inner_text()
        assert demo.title in text
        code_lines = [line.strip() for line in demo.code.splitlines() if line.strip()]
        visible_code = [line for line in code_lines if line in text]
        assert not visible_code, f"the demo page shows its code: {visible_code[:3]}"
        assert not widget_error_texts(page, "body")
        return view
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"demo-{demo.name}-failure.png"), full_page=True)
        print("Voila log:\n" + server.log_tail())
        raise


@pytest.mark.parametrize("demo", DEMOS, ids=lambda d: d.name)
def test_demo_page_shows_only_the_playground_and_it_reacts(demo, browser, all_demos):
    if not is_available(demo):
        pytest.skip(f"course.widgets has no {demo.needs} yet")
    server, base = all_demos
    page = browser.new_page()
    try:
        view = check_demo_page(page, demo, f"{base}/voila/render/{demo.name}.ipynb", server)
        done = exercise(page, view, PLAYGROUNDS[demo.needs], f"demo-{demo.name}")
        page.screenshot(path=str(ARTIFACTS / f"demo-{demo.name}-page.png"), full_page=True)
        print(f"demo {demo.name}: {done}")
    finally:
        page.close()


def test_demo_without_a_name_lists_every_available_demo(browser, all_demos):
    from playwright.sync_api import expect

    _, base = all_demos
    page = browser.new_page()
    try:
        page.goto(f"{base}/")
        for demo in DEMOS:
            if is_available(demo):
                expect(page.locator("body")).to_contain_text(f"{demo.name}.ipynb",
                                                             timeout=SERVER_START_SECONDS * 1000)
        listed = page.locator("body").inner_text()
        unavailable = [d.name for d in DEMOS if not is_available(d) and f"{d.name}.ipynb" in listed]
        assert not unavailable, f"demos listed without their playground: {unavailable}"
    finally:
        page.close()


def test_course_demo_name_serves_that_demo_alone(browser, tmp_path):
    demo = DEMOS[0]
    server, base = start_demo_server(tmp_path, demo.name)
    page = browser.new_page()
    try:
        check_demo_page(page, demo, f"{base}/", server)
        others = [d.title for d in DEMOS[1:] if d.title in page.locator("body").inner_text()]
        assert not others, f"the page of {demo.name} shows other demos too: {others}"
    finally:
        page.close()
        server.stop()


def test_class_report_page_shows_its_pictures(browser, tmp_path):
    """`course report`'s page, opened from disk with the network blocked: every picture decodes."""
    import planted_class as planted
    from autograder.course_dir import Course
    from autograder.report import write_report

    course = planted.write_course(tmp_path)
    planted.random_class(course, 40, seed=1)
    path, report = write_report(Course.at(course), planted.MODULE)
    page = browser.new_page()
    fetched = []

    def local_only(route):
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            fetched.append(route.request.url)
            route.abort()

    try:
        page.route("**/*", local_only)
        page.goto(path.as_uri())
        sizes = page.eval_on_selector_all(
            "img", "images => images.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
        assert len(sizes) == 3, sizes
        assert all(complete and width > 0 and height > 0 for complete, width, height in sizes), sizes
        assert not fetched, f"the report page fetched {fetched}"
        assert f"Class report: {planted.MODULE}" in page.locator("h1").inner_text()
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    finally:
        page.close()
