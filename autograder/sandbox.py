"""Start and talk to the isolated kernel process that runs one submission.

Isolation (`isolation()` says what this machine offers; `Kernel.isolation` what a kernel got):

- **bubblewrap** (Debian's `bwrap`), an allow-list: the kernel's file system is built from
  nothing. It sees, read-only, the Python installation and the virtual environment, the `course`
  library and the `autograder` package, /usr and the loader's files in /etc; a minimal /dev, its
  own /proc, a small fresh /tmp, and one small writable scratch folder (a size-limited tmpfs
  holding copies of the submission and the assignment's data files). Nothing else of the course
  root exists for it: no solutions, gradebook, submissions, feedback, zips, CSVs, config, tests.
  It has no network and its own PID, IPC, UTS and mount namespaces, no capabilities and no way
  to gain privileges (no_new_privs), and a limit on its number of processes.
  As root, bwrap builds that view with root's rights (so a course cloned into a 0700 folder, or
  a Python under /root, can be shown), and the kernel then runs as a user id of its own
  (`setpriv`), unprivileged, which the process limit counts alone. As any other user, bwrap
  makes an unprivileged user namespace: the same view, the instructor's files read-only.
- **none**: only when asked for (`Kernel(unsafe=True)`, `course grade --unsafe-no-isolation`, or
  AUTOGRADER_ISOLATION=none in the environment). The resource limits and the in-process guards
  still apply, but they are not a boundary: such results record "isolation": "none" and their
  scores are reported as unverified.

In every mode: resource limits (`resource.setrlimit`: CPU seconds, address space, file size,
open files, no core dumps), a minimal environment, and the scratch folder as working directory
and HOME.
"""
from __future__ import annotations

import functools
import itertools
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """Limits for one submission: seconds per cell and for the whole submission (its remaining
    tests are not run once that budget is spent), MB of memory and output file, processes."""

    timeout: float = 30.0
    submission_seconds: float = 600.0
    memory_mb: int = 2048
    cpu_seconds: int = 600
    file_mb: int = 64
    nproc: int = 64
    startup_timeout: float = 60.0
    grace: float = 5.0


_KERNEL_NUMBERS = itertools.count()
SCRATCH = "/scratch"             # the kernel's working folder inside the sandbox
NO_ISOLATION = "none"


class KernelDied(RuntimeError):
    """The kernel process ended (or was killed) while doing a step."""

    def __init__(self, cause: str, last_statement: int | None, line: int | None):
        super().__init__(cause)
        self.cause, self.last_statement, self.line = cause, last_statement, line


class IsolationUnavailable(RuntimeError):
    """Real isolation is not available here and running without it was not asked for."""

    def __init__(self, reason: str):
        super().__init__(
            f"no OS isolation for the grading kernels on this machine ({reason}). Install "
            "bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) and grade again, or pass "
            "--unsafe-no-isolation to grade anyway: student code then runs with your rights "
            "and every score is marked unverified")
        self.reason = reason


def unverified(result: dict) -> bool:
    """True when a graded result's score was not produced under real isolation (results of older
    graders, which did not record it, included)."""
    return result.get("status") == "graded" and result.get("isolation", NO_ISOLATION) == NO_ISOLATION


def require_isolation(unsafe_no_isolation: bool = False) -> None:
    """Raise IsolationUnavailable unless this machine isolates kernels or running without was asked."""
    offered = isolation()
    if offered["kind"] == NO_ISOLATION and not (unsafe_no_isolation or offered["chosen"]):
        raise IsolationUnavailable(offered["reason"])


def _package_dirs() -> list[str]:
    """Real paths of the `autograder` package and the `course` library next to it (the kernel
    imports both from their parent folder, its PYTHONPATH)."""
    here = Path(__file__).resolve().parent
    return [str(p) for p in (here.parent / "course", here) if p.is_dir()]


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@functools.lru_cache(maxsize=1)
def python_paths() -> list[str]:
    """The folders the kernel's Python needs, read-only: the installation, the environment, the
    kernel's import path (asked of the interpreter, in the kernel's environment) and the two
    packages; never the folder holding the packages (the course root) nor anything else inside
    it but the environment. Outermost folders only, sorted."""
    packages = _package_dirs()
    course_root = os.path.dirname(packages[-1])
    environment = os.path.realpath(sys.prefix)
    try:
        asked = subprocess.run([sys.executable, "-c", "import json, sys; print(json.dumps(sys.path))"],
                               env=kernel_env(SCRATCH), cwd="/", capture_output=True, timeout=60)
        import_path = json.loads(asked.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        import_path = sys.path[1:]   # [0] is the grader's script folder or working directory
    candidates = [sys.base_prefix, sys.prefix, sys.exec_prefix, sys.base_exec_prefix, *import_path]
    keep = set(packages)
    for path in candidates:
        path = os.path.realpath(path) if path else ""
        if not path or not os.path.isdir(path) or _inside(course_root, path) or _inside(path, "/usr"):
            continue
        if _inside(path, course_root) and not _inside(path, environment):
            continue
        if os.path.exists(os.path.join(path, "nbgrader_config.py")):
            continue
        keep.add(path)
    return sorted(p for p in keep if not any(q != p and _inside(p, q) for q in keep))


def _system_binds() -> list[str]:
    """bwrap arguments for the operating system's part: /usr, the merged-/usr links, the loader."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime"):
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def _folders_for(paths: list[str]) -> list[str]:
    """bwrap arguments creating the parents of the bound paths, enterable by the kernel's user
    (bwrap would create them mode 0700 as root)."""
    parents = set()
    for path in paths:
        parent = os.path.dirname(path)
        while parent not in ("/", "/tmp", "") and not _inside(parent, "/usr"):
            parents.add(parent)
            parent = os.path.dirname(parent)
    args = []
    for parent in sorted(parents):
        args += ["--perms", "0755", "--dir", parent]
    return args


def _bwrap_command(offered: dict, scratch_mb: int, files: dict[str, int]) -> list[str]:
    """The bwrap command line (without the program to run). files: path inside scratch -> open fd."""
    binds = python_paths()
    args = [offered["bwrap"], "--die-with-parent", "--new-session", "--unshare-net", "--unshare-ipc",
            "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "grader"]
    if offered["as_root"]:
        # No user namespace: the kernel's own unprivileged uid (below, setpriv) is the boundary, and
        # keeping CAP_SET* until setpriv runs is what lets it switch; everything else is dropped.
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                 "--cap-add", "CAP_SETPCAP"]
    else:
        args += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    args += _system_binds()
    args += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(16 << 20), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
             "--perms", "1777", "--size", str(scratch_mb << 20), "--tmpfs", "/tmp"]
    # After /tmp: a course cloned into /tmp (mktemp -d) shows through the fresh /tmp.
    args += _folders_for(binds)
    for path in binds:
        args += ["--ro-bind", path, path]
    args += ["--perms", "1777", "--size", str(scratch_mb << 20), "--tmpfs", SCRATCH]
    made = set()
    for name, fd in sorted(files.items()):
        folder = os.path.dirname(name)
        if folder and folder not in made:
            args += ["--perms", "0777", "--dir", f"{SCRATCH}/{folder}"]
            made.add(folder)
        args += ["--perms", "0666", "--file", str(fd), f"{SCRATCH}/{name}"]
    return args + ["--remount-ro", "/", "--chdir", SCRATCH]


def _drop_to(uid: int) -> list[str]:
    """The command prefix that runs the kernel as uid, with no capabilities left at all."""
    return [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


@functools.lru_cache(maxsize=1)
def isolation() -> dict:
    """What this machine offers the kernels:
    {"kind": "bubblewrap", "bwrap": path, "as_root": bool} or
    {"kind": "none", "reason": why not, "chosen": True when AUTOGRADER_ISOLATION=none asked for it}.

    The answer comes from starting a real (empty) sandbox once.
    """
    if os.environ.get("AUTOGRADER_ISOLATION") == NO_ISOLATION:
        return {"kind": NO_ISOLATION, "reason": "AUTOGRADER_ISOLATION=none", "chosen": True}
    if not sys.platform.startswith("linux"):
        return {"kind": NO_ISOLATION, "reason": f"bubblewrap needs Linux, this is {sys.platform}",
                "chosen": False}
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return {"kind": NO_ISOLATION, "reason": "bubblewrap (bwrap) is not installed", "chosen": False}
    offered = {"kind": "bubblewrap", "bwrap": bwrap, "as_root": os.geteuid() == 0}
    if offered["as_root"] and shutil.which("setpriv") is None:
        return {"kind": NO_ISOLATION, "reason": "setpriv (util-linux) is not installed", "chosen": False}
    probe = _bwrap_command(offered, 1, {}) + (_drop_to(_probe_uid()) if offered["as_root"] else [])
    try:
        done = subprocess.run(probe + [sys.executable, "-c", ""], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"kind": NO_ISOLATION, "reason": f"bwrap could not start: {error}", "chosen": False}
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return {"kind": NO_ISOLATION, "chosen": False,
                "reason": f"bwrap does not work here: {why[-1] if why else done.returncode}"}
    return offered


def _probe_uid() -> int:
    return _kernel_uid(15)


def _kernel_uid(number: int) -> int:
    """A user id of its own for each kernel, by process id and the process's kernel number (mod 16).
    Kernels never see each other's processes or files anyway; the uid is what RLIMIT_NPROC counts."""
    return 200000 + os.getpid() % (1 << 22) * 16 + number % 16


@functools.lru_cache(maxsize=1)
def matplotlib_cache() -> Path | None:
    """A matplotlib config folder with its font cache built once, copied into each scratch folder
    (building the cache takes seconds; every kernel would otherwise do it again)."""
    folder = Path(tempfile.gettempdir()) / f"autograder-mplcache-{os.getuid()}"
    if not any(folder.glob("fontlist*.json")):
        folder.mkdir(exist_ok=True)
        env = dict(os.environ, MPLCONFIGDIR=str(folder), MPLBACKEND="Agg")
        try:
            subprocess.run([sys.executable, "-c", "import matplotlib.pyplot"], env=env, timeout=120,
                           capture_output=True)
        except (OSError, subprocess.TimeoutExpired):
            return None
    return folder if any(folder.glob("fontlist*.json")) else None


def _set_limits(limits: Limits, nproc: bool):
    """What the child does before exec: its own session, the resource limits. nproc: also limit the
    processes (only when the kernel gets a uid of its own: the limit counts per real uid)."""
    import resource

    mb = 1024 * 1024
    wanted = [(resource.RLIMIT_AS, limits.memory_mb * mb, limits.memory_mb * mb),
              (resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 5),
              (resource.RLIMIT_FSIZE, limits.file_mb * mb, limits.file_mb * mb),
              (resource.RLIMIT_CORE, 0, 0), (resource.RLIMIT_NOFILE, 256, 256)]
    if nproc:
        wanted.append((resource.RLIMIT_NPROC, limits.nproc, limits.nproc))

    def apply():
        os.setsid()
        for which, soft, hard in wanted:
            try:
                resource.setrlimit(which, (soft, hard))
            except (ValueError, OSError):   # e.g. RLIMIT_AS on macOS: the other limits still hold
                pass
    return apply


def kernel_env(scratch: str) -> dict:
    package_parent = str(Path(__file__).resolve().parents[1])
    env = {"PATH": "/usr/bin:/bin", "HOME": scratch, "TMPDIR": scratch,
           "PYTHONPATH": package_parent, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
           "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(scratch, ".mpl"),
           "NBGRADER_EXECUTION": "autograde", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8"}
    for key, value in os.environ.items():
        if key.startswith("OPENBLAS_") and key not in env:
            env[key] = value
    return env


class Kernel:
    """One sandboxed kernel process. Use as a context manager; restart() after a death.

    scratch: a host folder for the kernel's files when it runs without isolation (under
    bubblewrap its scratch folder is a tmpfs of its own). files: copied into the scratch folder.
    unsafe: run without isolation where bubblewrap is unavailable (else start() raises
    IsolationUnavailable). hide: ignored (nothing is visible but the allow-list), kept for callers.
    """

    def __init__(self, scratch: Path, limits: Limits, hide: list[Path] = (), files: list[Path] = (),
                 preload: list[str] = (), profile: bool = False, unsafe: bool = False):
        self.scratch, self.limits, self.files = Path(scratch), limits, list(files)
        self.preload, self.profile, self.unsafe = list(preload), profile, unsafe
        self.proc = None
        self.notes: list[str] = []
        self.stray: list[str] = []     # lines on the result pipe that were not the kernel's
        self.uid = _kernel_uid(next(_KERNEL_NUMBERS))
        self.isolation = NO_ISOLATION  # what the running kernel got, e.g. "bubblewrap (uid 200123)"

    def _scratch_files(self) -> dict[str, Path]:
        """What the scratch folder starts with: name inside it -> file to copy."""
        files = {path.name: Path(path) for path in self.files}
        if any(name.split(".")[0] == "matplotlib" for name in self.preload):
            cache = matplotlib_cache()
            if cache is not None:
                files.update({f".mpl/{p.name}": p for p in cache.iterdir() if p.is_file()})
        return files

    # -- lifecycle
    def start(self):
        require_isolation(self.unsafe)
        offered = isolation()
        files = self._scratch_files()
        cmd_read, self._cmd_write = os.pipe()
        self._res_read, res_write = os.pipe()
        opened: list[int] = []
        if offered["kind"] == "bubblewrap":
            scratch_mb = max(128, 2 * self.limits.file_mb)
            for path in files.values():
                opened.append(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
            prefix = _bwrap_command(offered, scratch_mb, dict(zip(files, opened)))
            if offered["as_root"]:
                prefix += _drop_to(self.uid)
                self.isolation = f"bubblewrap (uid {self.uid})"
            else:
                self.isolation = f"bubblewrap (user namespace of uid {os.getuid()})"
            scratch, cwd = SCRATCH, None
        else:
            prefix, scratch, cwd = [], str(self.scratch), self.scratch
            self._fill_scratch(files)
            self.isolation = NO_ISOLATION
        nonce = secrets.token_hex(16)
        config = {"fd_in": cmd_read, "fd_out": res_write, "scratch": scratch, "nonce": nonce,
                  "nproc": self.limits.nproc if offered["kind"] == "bubblewrap" else None,
                  "preload": self.preload, "profile": self.profile}
        command = prefix + [sys.executable, "-m", "autograder.kernel", json.dumps(config)]
        try:
            self.proc = subprocess.Popen(
                command, pass_fds=(cmd_read, res_write, *opened), cwd=cwd, env=kernel_env(scratch),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                preexec_fn=_set_limits(self.limits, nproc=offered.get("as_root", False)))
        finally:
            for fd in (cmd_read, res_write, *opened):
                os.close(fd)
        self._buffer = b""
        ready = self._read_message(nonce, time.monotonic() + self.limits.startup_timeout)
        if ready is None or not ready.get("ready"):
            cause = self._death_cause()
            detail = b""
            if self.proc.poll() is not None and self.proc.stderr:
                detail = self.proc.stderr.read()[-2000:]
            if cwd is not None:
                try:
                    detail += (self.scratch / ".output").read_bytes()[-2000:]
                except OSError:
                    pass
            self.close()
            raise RuntimeError(f"the grading kernel did not start: {cause}\n"
                               f"{detail.decode('utf-8', 'replace')}")
        self.notes = ready.get("notes", [])
        return self

    def _fill_scratch(self, files: dict[str, Path]) -> None:
        """Without isolation: the host scratch folder, emptied, with the files copied in."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        for item in self.scratch.iterdir():
            if item.is_dir():
                shutil.rmtree(item, ignore_errors=True)
            else:
                item.unlink()
        for name, path in files.items():
            (self.scratch / name).parent.mkdir(exist_ok=True)
            shutil.copy(path, self.scratch / name)

    def close(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.kill()
            self.proc.wait()
            if self.proc.stderr:
                self.proc.stderr.close()
            for fd in (self._cmd_write, self._res_read):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.proc = None

    def restart(self):
        self.close()
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- talking
    def _read_message(self, nonce, deadline, on_progress=None):
        """The next message carrying nonce; None on EOF or deadline. Other lines are kept as stray."""
        while True:
            while b"\n" in self._buffer:
                line, _, self._buffer = self._buffer.partition(b"\n")
                try:
                    message = json.loads(line)
                except ValueError:
                    message = None
                if not isinstance(message, dict) or message.get("nonce") != nonce:
                    if len(self.stray) < 5:
                        self.stray.append(line[:200].decode("utf-8", "replace"))
                    continue
                if "progress" in message:
                    if on_progress:
                        on_progress(message)
                    continue
                return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._res_read], [], [], min(remaining, 1.0))
            if ready:
                chunk = os.read(self._res_read, 1 << 20)
                if not chunk:
                    self._eof = True
                    return None
                self._buffer += chunk
                if len(self._buffer) > 64 << 20:
                    return None

    def _death_cause(self) -> str:
        if self.proc is None:
            return "not running"
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        if code is None:
            return "unknown"
        if code < 0 or code > 128:
            number = -code if code < 0 else code - 128
            name = {signal.SIGKILL: "killed (SIGKILL: memory or time limit)",
                    signal.SIGSEGV: "crashed (segmentation fault)",
                    signal.SIGXCPU: "CPU time limit exceeded", signal.SIGABRT: "aborted",
                    signal.SIGXFSZ: "file size limit exceeded"}.get(number, f"killed by signal {number}")
            return name
        return f"exited with code {code}"

    def request(self, command: dict, timeout: float) -> dict:
        """Send a command, wait for its answer. Raises KernelDied (the kernel is then dead)."""
        nonce = secrets.token_hex(16)
        progress = {"statement": None, "line": None}

        def on_progress(message):
            progress["statement"], progress["line"] = message.get("progress"), message.get("line")

        try:
            os.write(self._cmd_write, (json.dumps(dict(command, nonce=nonce)) + "\n").encode())
        except OSError:
            raise KernelDied(self._death_cause(), None, None)
        self._eof = False
        answer = self._read_message(nonce, time.monotonic() + timeout + self.limits.grace, on_progress)
        if answer is None:
            cause = self._death_cause() if self._eof else f"did not finish within {timeout:g} s"
            self.close()
            raise KernelDied(cause, progress["statement"], progress["line"])
        return answer

    def modules(self) -> list[str]:
        return self.request({"op": "modules"}, self.limits.timeout).get("modules", [])

    def run_cell(self, kind, code, label, skip=()):
        return self.request({"op": "run", "kind": kind, "code": code, "label": label,
                             "timeout": self.limits.timeout, "skip": sorted(skip)}, self.limits.timeout)

    def run_test(self, code, label):
        """Run a test cell's full code (hidden tests between their markers)."""
        return self.request({"op": "test", "code": code, "label": label, "timeout": self.limits.timeout},
                            self.limits.timeout)


def scratch_folder(base: Path | None = None) -> Path:
    root = Path(base or tempfile.gettempdir())
    return Path(tempfile.mkdtemp(prefix="autograde-", dir=root))
