"""Start and talk to the isolated kernel process that runs one submission.

Isolation, as far as the platform allows (`isolation()` says what this machine offers):
- resource limits (`resource.setrlimit`): CPU seconds, address space (memory), file size,
  open files, no core dumps; the number of processes is limited once the kernel runs as its own
  unprivileged user;
- when running as root on Linux: `unshare` gives the kernel its own network namespace (no
  network at all), mount namespace (solutions/, the gradebook, other submissions and .git are
  covered by empty read-only mounts) and PID namespace (every process it starts dies with it);
  the kernel then drops to a user id of its own, so it cannot write anywhere but its scratch folder;
- otherwise sockets are refused inside Python, and the limits still apply;
- the kernel's working directory and HOME are a scratch folder holding only the submission and
  the assignment's data files; its environment is minimal.
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


class KernelDied(RuntimeError):
    """The kernel process ended (or was killed) while doing a step."""

    def __init__(self, cause: str, last_statement: int | None, line: int | None):
        super().__init__(cause)
        self.cause, self.last_statement, self.line = cause, last_statement, line


@functools.lru_cache(maxsize=1)
def isolation() -> dict:
    """What this machine offers: {"prefix": [...], "mount_ns": bool, "net_ns": bool, "setuid": bool}.

    AUTOGRADER_ISOLATION=none in the environment turns namespaces off (limits stay), e.g. to see
    how grading behaves on a machine without them.
    """
    unshare = shutil.which("unshare")
    if os.environ.get("AUTOGRADER_ISOLATION") == "none":
        unshare = None
    if sys.platform.startswith("linux") and unshare and os.geteuid() == 0:
        prefix = [unshare, "--mount", "--net", "--pid", "--fork", "--kill-child"]
        try:
            ok = subprocess.run(prefix + ["true"], capture_output=True, timeout=20).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return {"prefix": prefix, "mount_ns": True, "net_ns": True, "setuid": True}
    if sys.platform.startswith("linux") and unshare:
        prefix = [unshare, "--user", "--map-root-user", "--mount", "--net", "--pid", "--fork",
                  "--kill-child"]
        try:
            ok = subprocess.run(prefix + ["true"], capture_output=True, timeout=20).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return {"prefix": prefix, "mount_ns": True, "net_ns": True, "setuid": False}
    return {"prefix": [], "mount_ns": False, "net_ns": False, "setuid": False}


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


def _set_limits(limits: Limits):
    import resource

    mb = 1024 * 1024
    wanted = [(resource.RLIMIT_AS, limits.memory_mb * mb, limits.memory_mb * mb),
              (resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 5),
              (resource.RLIMIT_FSIZE, limits.file_mb * mb, limits.file_mb * mb),
              (resource.RLIMIT_CORE, 0, 0), (resource.RLIMIT_NOFILE, 256, 256)]

    def apply():
        os.setsid()
        for which, soft, hard in wanted:
            try:
                resource.setrlimit(which, (soft, hard))
            except (ValueError, OSError):   # e.g. RLIMIT_AS on macOS: the other limits still hold
                pass
    return apply


def kernel_env(scratch: Path) -> dict:
    package_parent = str(Path(__file__).resolve().parents[1])
    env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "TMPDIR": str(scratch),
           "PYTHONPATH": package_parent, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
           "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(scratch / ".mpl"),
           "NBGRADER_EXECUTION": "autograde", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8"}
    for key, value in os.environ.items():
        if key.startswith("OPENBLAS_") and key not in env:
            env[key] = value
    return env


class Kernel:
    """One sandboxed kernel process. Use as a context manager; restart() after a death."""

    def __init__(self, scratch: Path, limits: Limits, hide: list[Path] = (), files: list[Path] = (),
                 preload: list[str] = (), profile: bool = False):
        self.scratch, self.limits, self.hide, self.files = Path(scratch), limits, list(hide), list(files)
        self.preload, self.profile = list(preload), profile
        self.proc = None
        self.notes: list[str] = []
        self.stray: list[str] = []     # lines on the result pipe that were not the kernel's
        # A user id of its own for each kernel (processes of one worker, threads of one process).
        self.uid = 200000 + (os.getpid() % 50000) * 16 + next(_KERNEL_NUMBERS) % 16

    # -- lifecycle
    def start(self):
        iso = isolation()
        self.scratch.mkdir(parents=True, exist_ok=True)
        for item in self.scratch.iterdir():
            if item.is_dir():
                shutil.rmtree(item, ignore_errors=True)
            else:
                item.unlink()
        for path in self.files:
            shutil.copy(path, self.scratch / path.name)
        if any(name.split(".")[0] == "matplotlib" for name in self.preload):
            cache = matplotlib_cache()
            if cache is not None:
                shutil.copytree(cache, self.scratch / ".mpl", dirs_exist_ok=True)
        uid = self.uid if iso["setuid"] else None
        if uid is not None:
            for root, dirs, files in os.walk(self.scratch):
                for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                    os.chown(name, uid, uid)
            os.chmod(self.scratch, 0o700)
        cmd_read, self._cmd_write = os.pipe()
        self._res_read, res_write = os.pipe()
        nonce = secrets.token_hex(16)
        config = {"fd_in": cmd_read, "fd_out": res_write, "scratch": str(self.scratch), "nonce": nonce,
                  "hide": [str(p) for p in self.hide if p.exists()], "mount_ns": iso["mount_ns"],
                  "net_ns": iso["net_ns"], "uid": uid, "nproc": self.limits.nproc if uid else None,
                  "preload": self.preload, "profile": self.profile,
                  "scratch_mb": max(128, 2 * self.limits.file_mb)}
        command = iso["prefix"] + [sys.executable, "-m", "autograder.kernel", json.dumps(config)]
        self.proc = subprocess.Popen(
            command, pass_fds=(cmd_read, res_write), cwd=self.scratch, env=kernel_env(self.scratch),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=_set_limits(self.limits))
        os.close(cmd_read)
        os.close(res_write)
        self._buffer = b""
        ready = self._read_message(nonce, time.monotonic() + self.limits.startup_timeout)
        if ready is None or not ready.get("ready"):
            cause = self._death_cause()
            detail = b""
            if self.proc.poll() is not None and self.proc.stderr:
                detail = self.proc.stderr.read()[-2000:]
            try:
                detail += (self.scratch / ".output").read_bytes()[-2000:]
            except OSError:
                pass
            self.close()
            raise RuntimeError(f"the grading kernel did not start: {cause}\n"
                               f"{detail.decode('utf-8', 'replace')}")
        self.notes = ready.get("notes", [])
        return self

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
