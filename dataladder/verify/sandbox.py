"""The code sandbox behind the `python-tests` verifier: run untrusted Python, get a verdict.

    from dataladder.verify.sandbox import Sandbox, Limits
    sb = Sandbox(Limits(wall_s=5))
    sb.run("def f(x): return 2 * x", tests=["assert f(2) == 4"]).verdict      # Verdict(ok=True)
    sb.run_many([("while True: pass", ["assert True"])])                       # cpu_limit
    sandbox_capabilities()                                                     # which protections hold

Each candidate is its own `python -I -S` subprocess (no site-packages, no environment but a
clean PATH/HOME/LANG) in an empty temporary directory, with rlimits on CPU time, address
space, file size, open files and processes, a wall-clock timeout and a cap on captured output;
its process group is killed on any limit. Where the OS allows (mode `full`: the host runs as
root; `userns`: unprivileged user namespaces), it also gets fresh network, pid and mount
namespaces: no network at all (loopback is down), a private tmpfs as /tmp, /var/tmp and
/dev/shm read-only, a private /proc, and everything it started dies with it. In mode `full` it
also runs as an unprivileged uid of its own (one per concurrent slot), so RLIMIT_NPROC holds,
it can write nothing of the host's, and it cannot signal any host process. `plain` (no
namespaces) keeps the rlimits, the timeout, the output cap, the clean environment and, as root,
the uid switch. The child side is `_sandbox_child.py`.
"""

from __future__ import annotations

import marshal
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterable, Sequence

from dataladder.verify.core import Verdict

CHILD_SOURCE = (Path(__file__).with_name("_sandbox_child.py")).read_text()
# Compiling the child's source costs ~5 ms a start; the same interpreter gets it compiled, on stdin.
CHILD_CODE = marshal.dumps(compile(CHILD_SOURCE, "_sandbox_child.py", "exec"))
CHILD_LOADER = f"import sys, marshal; exec(marshal.loads(sys.stdin.buffer.read({len(CHILD_CODE)})))"
MODES = ("full", "userns", "plain")
# the child's whole environment; -I already makes Python ignore PYTHON* variables
CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
UID_BASE = 200_000  # sandbox uids: UID_BASE + (pid % 4096) * 256 + slot; owned by nothing else
RESULT_CAP = 64 * 1024
DRAIN_S = 1.0  # after the child exits, how long stragglers may keep its pipes open (plain mode)


@dataclass(frozen=True)
class Limits:
    """Per-candidate limits. Memory is address space (RLIMIT_AS), per process."""

    wall_s: float = 10.0
    cpu_s: int = 5
    memory_mb: int = 512
    file_size_mb: int = 16
    tmp_mb: int = 64
    processes: int = 32
    output_bytes: int = 1_000_000
    open_files: int = 256

    @classmethod
    def parse(cls, spec: str | None) -> "Limits":
        """`wall_s=5,memory_mb=256` → Limits; unknown keys and bad values raise ValueError."""
        if not spec:
            return cls()
        kinds = {f.name: (float if f.name == "wall_s" else int) for f in fields(cls)}
        out = {}
        for part in spec.split(","):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in kinds:
                raise ValueError(f"sandbox limit {part.strip()!r}: expected key=value with key one of {', '.join(kinds)}")
            if key in out:
                raise ValueError(f"sandbox limit {key} is given twice; give each limit once")
            try:
                out[key] = kinds[key](value)
            except ValueError:
                raise ValueError(f"sandbox limit {key}: {value!r} is not a number") from None
            if not 0 < out[key] <= LIMIT_MAX[key]:  # nan and inf too: a limit is a finite size
                raise ValueError(f"sandbox limit {key}: must be positive and at most {LIMIT_MAX[key]:,}, got "
                                 f"{value.strip()}")
        return cls(**out)


LIMIT_MAX = {"wall_s": 86_400, "cpu_s": 86_400, "memory_mb": 1 << 22, "file_size_mb": 1 << 22, "tmp_mb": 1 << 22,
             "processes": 1 << 16, "output_bytes": 1 << 30, "open_files": 1 << 20}  # a day; 4 TiB of memory, files or tmp


@dataclass
class SandboxResult:
    ok: bool
    reason: str | None  # None when ok; else timeout, cpu_limit, memory_limit, output_limit, ...
    detail: str
    stdout: str
    stderr: str
    tests_passed: int
    tests_total: int
    seconds: float
    cpu_seconds: float | None
    mode: str

    @property
    def verdict(self) -> Verdict:
        return Verdict(self.ok, self.reason)


class _Slots:
    """Small integers handed to concurrent runs, so each one gets a uid of its own."""

    def __init__(self):
        self._lock = threading.Lock()
        self._free: list[int] = []
        self._next = 0

    def take(self) -> int:
        with self._lock:
            if self._free:
                return self._free.pop()
            self._next += 1
            return self._next - 1

    def give(self, slot: int) -> None:
        with self._lock:
            self._free.append(slot)


_SLOTS = _Slots()


class Sandbox:
    """Runs candidate programs under `limits`; `run_many` runs them on `workers` threads."""

    def __init__(self, limits: Limits | None = None, workers: int | None = None, mode: str = "auto",
                 python: str | None = None):
        self.limits = limits or Limits()
        self.workers = workers or os.cpu_count() or 1
        if mode not in ("auto", *MODES):
            raise ValueError(f"sandbox mode {mode!r}: expected auto, {', '.join(MODES)}")
        self.mode = sandbox_capabilities()["mode"] if mode == "auto" else mode
        self.python = python or sys.executable
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def run(self, program: str, tests: Sequence[str] | str | None = None, stdin: str | None = None) -> SandboxResult:
        """Run `program`, then each test (Python source, e.g. asserts) in the program's namespace."""
        if isinstance(tests, str):
            tests = [tests]
        slot = _SLOTS.take()
        try:
            return _run_one(self, program, list(tests or []), stdin, slot)
        finally:
            _SLOTS.give(slot)

    def run_many(self, jobs: Iterable[str | tuple]) -> list[SandboxResult]:
        """Run many (program, tests[, stdin]) jobs, or bare programs, in parallel; results in order."""
        norm = [(j,) if isinstance(j, str) else tuple(j) for j in jobs]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sandbox")
        return list(self._pool.map(lambda j: self.run(*j), norm))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _run_one(sb: Sandbox, program: str, tests: list[str], stdin: str | None, slot: int) -> SandboxResult:
    lim, mode = sb.limits, sb.mode
    root = os.geteuid() == 0
    uid = UID_BASE + (os.getpid() % 4096) * 256 + slot if root and mode in ("full", "plain") else None
    workdir = None
    if mode == "plain":
        from dataladder.core.runtime import scratch_path

        workdir = scratch_path("sandbox")  # removed below; after a kill, by the next run
        if uid is not None:
            os.chown(workdir, uid, uid)
    nonce = secrets.token_hex(16)
    cfg = {
        "nonce": nonce, "mode": mode, "program": program, "tests": tests, "stdin": stdin, "uid": uid,
        "workdir": workdir or "/tmp", "tmp_kb": lim.tmp_mb * 1024, "memory": lim.memory_mb << 20,
        "expose": _hidden_prefix(sb.python) if uid is not None and mode == "full" else None,
        "fsize": lim.file_size_mb << 20, "nofile": lim.open_files, "nproc": lim.processes, "cpu": lim.cpu_s,
    }
    env = dict(CLEAN_ENV, HOME=workdir or "/tmp", TMPDIR=workdir or "/tmp")
    result_r, result_w = os.pipe()
    cfg["result_fd"] = result_w
    payload = marshal.dumps(cfg)
    same = os.path.realpath(sb.python) == os.path.realpath(sys.executable)
    if same:
        payload = CHILD_CODE + payload
    start = time.monotonic()
    try:
        proc = subprocess.Popen([sb.python, "-I", "-S", "-c", CHILD_LOADER if same else CHILD_SOURCE], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(result_w,),
                                env=env, cwd=workdir or "/", start_new_session=True)
    except BaseException:
        os.close(result_r)
        raise
    finally:
        os.close(result_w)
    try:
        out, killed_for, status, usage = _communicate(proc, payload, result_r, lim, start)
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.monotonic() - start
    return _judge(out, killed_for, status, usage, nonce, lim, mode, seconds, len(tests))


def _communicate(proc, payload: bytes, result_r: int, lim: Limits, start: float):
    """Feed the payload, read stdout/stderr/results with caps, enforce the wall clock, reap."""
    sel = selectors.DefaultSelector()
    bufs = {"stdout": bytearray(), "stderr": bytearray(), "result": bytearray()}
    stdin_fd = proc.stdin.fileno()
    os.set_blocking(stdin_fd, False)
    sel.register(stdin_fd, selectors.EVENT_WRITE, "stdin")
    sel.register(proc.stdout.fileno(), selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr.fileno(), selectors.EVENT_READ, "stderr")
    sel.register(result_r, selectors.EVENT_READ, "result")
    pidfd = os.pidfd_open(proc.pid)
    sel.register(pidfd, selectors.EVENT_READ, "exit")
    deadline, drain_until, killed_for, exited, sent = start + lim.wall_s, None, None, False, 0
    view = memoryview(payload)

    def kill():
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop_stdin():
        sel.unregister(stdin_fd)
        proc.stdin.close()

    try:
        while True:
            reading = any(k.data in bufs for k in sel.get_map().values())
            now = time.monotonic()
            if (exited and not reading) or (drain_until is not None and now >= drain_until):
                break
            if killed_for is None and not exited and now >= deadline:
                killed_for = "timeout"
                kill()
                drain_until = now + DRAIN_S
                continue
            for key, _ in sel.select(max(0.0, (drain_until or deadline) - now)):
                name = key.data
                if name == "stdin":
                    try:
                        sent += os.write(stdin_fd, view[sent:sent + 65536])
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        sent = len(payload)
                    if sent >= len(payload):
                        stop_stdin()
                elif name == "exit":
                    exited = True
                    sel.unregister(pidfd)
                    if "stdin" in (k.data for k in sel.get_map().values()):
                        stop_stdin()
                    kill()  # stragglers of a plain-mode child; in a pid namespace they are gone already
                    drain_until = min(drain_until or float("inf"), time.monotonic() + DRAIN_S)
                else:
                    data = os.read(key.fd, 65536)
                    if not data:
                        sel.unregister(key.fd)
                        continue
                    bufs[name] += data
                    over = (len(bufs["result"]) > RESULT_CAP if name == "result"
                            else len(bufs["stdout"]) + len(bufs["stderr"]) > lim.output_bytes)
                    if over:
                        sel.unregister(key.fd)
                        if killed_for is None:
                            killed_for = "output_limit"
                            kill()
                            drain_until = time.monotonic() + DRAIN_S
    finally:
        sel.close()
        for f in (proc.stdin, proc.stdout, proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        os.close(result_r)
        kill()
        _, status, usage = os.wait4(proc.pid, 0)
        os.close(pidfd)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return bufs, killed_for, status, usage


def _judge(out, killed_for, status, usage, nonce, lim: Limits, mode: str, seconds: float, total: int) -> SandboxResult:
    stdout = bytes(out["stdout"][: lim.output_bytes]).decode("utf-8", "replace")
    stderr = bytes(out["stderr"][: lim.output_bytes]).decode("utf-8", "replace")
    lines = [ln.split("\t") for ln in bytes(out["result"]).decode("utf-8", "replace").splitlines()]
    lines = [ln[1:] for ln in lines if ln and ln[0] == nonce]
    verdicts = [ln for ln in lines if ln[0] not in ("exit", "setup_error") and len(ln) >= 4]
    exits = [ln for ln in lines if ln[0] == "exit" and len(ln) >= 3]
    setup = [ln for ln in lines if ln[0] == "setup_error"]
    cpu = usage.ru_utime + usage.ru_stime
    raw = status
    if exits:  # namespace modes: A reports how B ended
        raw, cpu = int(exits[-1][1]), float(exits[-1][2])
    passed = int(verdicts[-1][1]) if verdicts and verdicts[-1][1].isdigit() else 0

    def result(ok, reason, detail):
        return SandboxResult(ok, reason, detail, stdout, stderr, passed, total, seconds, cpu, mode)

    if killed_for == "timeout":
        return result(False, "timeout", f"wall clock over {lim.wall_s:g} s")
    if killed_for == "output_limit":
        return result(False, "output_limit", f"printed over {lim.output_bytes} bytes")
    if setup:
        return result(False, "sandbox_error", f"sandbox set-up failed: {setup[-1][-1]}")
    if verdicts:
        state, detail = verdicts[-1][0], verdicts[-1][3] if len(verdicts[-1]) > 3 else ""
        if state == "ok":
            return result(True, None, f"{passed}/{total} tests passed")
        if state in ("crashed", "tests_failed") and "MemoryError" in detail:
            state = "memory_limit"
        return result(False, state, detail)
    # no verdict line: the program died or left through os._exit
    if os.WIFSIGNALED(raw):
        sig = os.WTERMSIG(raw)
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= lim.cpu_s):
            return result(False, "cpu_limit", f"over {lim.cpu_s} s of CPU time")
        if sig == signal.SIGXFSZ:
            return result(False, "file_size_limit", f"a file over {lim.file_size_mb} MB")
        if "MemoryError" in stderr[-2000:] or "out of memory" in stderr[-2000:].lower():
            return result(False, "memory_limit", f"address space over {lim.memory_mb} MB")
        return result(False, "crashed" if sig != signal.SIGKILL else "killed",
                      f"killed by signal {signal.strsignal(sig) or sig}" + _tail(stderr))
    if not exits and mode != "plain":
        return result(False, "sandbox_error", "the sandbox exited without a report" + _tail(stderr))
    code = os.WEXITSTATUS(raw)
    return result(False, "exited", f"the program exited with code {code} before its verdict" + _tail(stderr))


def _hidden_prefix(python: str) -> tuple[str, str] | None:
    """(the topmost ancestor others may not enter, the Python install under it), or None."""
    real = Path(os.path.realpath(python))
    prefix = Path(sys.base_prefix) if real == Path(os.path.realpath(sys.executable)) else real.parent.parent
    for anc in reversed(prefix.parents):
        if anc != Path("/") and not anc.stat().st_mode & 0o001:
            return str(anc), str(prefix)
    return None


def _tail(text: str, n: int = 300) -> str:
    text = " ".join(text[-n:].split())
    return f": {text}" if text else ""


_CAPS: dict | None = None
_CAPS_LOCK = threading.Lock()


def sandbox_capabilities(python: str | None = None) -> dict:
    """Which protections hold on this host (probed once per process by running `pass` in each mode).

    mode: `full` (root: namespaces and a per-slot unprivileged uid), `userns` (namespaces through
    an unprivileged user namespace, same uid as the caller) or `plain` (rlimits only).
    """
    global _CAPS
    with _CAPS_LOCK:
        if _CAPS is None:
            root = os.geteuid() == 0
            mode, errors = "plain", {}
            for m in (("full", "userns") if root else ("userns",)):
                r = _run_one(Sandbox(Limits(wall_s=10), workers=1, mode=m, python=python), "pass", [], None, 0)
                if r.ok:
                    mode = m
                    break
                errors[m] = r.detail
            ns = mode != "plain"
            _CAPS = {
                "mode": mode, "root": root,
                "network_isolated": ns, "pid_namespace": ns, "private_tmp": ns, "private_proc": ns,
                "unprivileged_uid": root and mode in ("full", "plain"),
                "parent_unsignalable": ns or root,
                "no_stray_processes": ns,
                "rlimits": ["cpu", "address_space", "file_size", "open_files", "processes", "core"],
                "wall_timeout": True, "output_cap": True, "clean_env": True,
                "unavailable": errors,
            }
        return dict(_CAPS)


__all__ = ["Limits", "Sandbox", "SandboxResult", "sandbox_capabilities"]
