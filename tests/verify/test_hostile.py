"""The hostile-program suite: each attack gets a failing verdict with its reason, the host is unharmed,
and the sandbox keeps serving. Attacks whose tests would pass only if the attack worked."""

import os
import signal
import socket
import uuid
from pathlib import Path

import pytest

from dataladder.verify import get_verifier
from dataladder.verify.sandbox import UID_BASE, Limits, Sandbox, sandbox_capabilities

CAPS = sandbox_capabilities()


def needs(cap: str):
    return pytest.mark.skipif(not CAPS[cap], reason=f"this host's sandbox mode ({CAPS['mode']}) lacks {cap}; "
                                                    f"see the README's sandbox table")


@pytest.fixture(scope="module")
def sb():
    box = Sandbox(Limits(wall_s=2, cpu_s=1, memory_mb=256, output_bytes=200_000, file_size_mb=8, tmp_mb=16,
                         processes=16), workers=2)
    yield box
    box.close()


@pytest.fixture(scope="module")
def cpu_sb():
    # a wall clock far above the CPU limit, so a busy loop meets the CPU limit first even on a loaded host
    box = Sandbox(Limits(wall_s=60, cpu_s=1, memory_mb=256), workers=2)
    yield box
    box.close()


@pytest.fixture(scope="module", autouse=True)
def host_fds():
    before = set(os.listdir("/proc/self/fd"))
    yield
    leaked = set(os.listdir("/proc/self/fd")) - before
    assert len(leaked) <= 2, f"file descriptors leaked by the sandbox: {leaked}"


def sandbox_processes() -> list[int]:
    """Host processes running as a sandbox uid (mode full)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            uid_line = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if int(uid_line.split()[1]) >= UID_BASE:
            pids.append(int(pid))
    return pids


def no_sandbox_processes(grace: float = 10.0) -> list[int]:
    """`sandbox_processes()` once it is empty, or after `grace` seconds: a killed pid namespace's processes are
    gone when the run returns, but a loaded machine may take a moment to reap them."""
    import time

    deadline = time.monotonic() + grace
    while (left := sandbox_processes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def check(result, reason):
    assert (result.ok, result.reason) == (False, reason), (result.reason, result.detail, result.stderr[-300:])


def test_infinite_loop(cpu_sb):
    check(cpu_sb.run("while True:\n    pass", ["assert True"]), "cpu_limit")


def test_infinite_loop_ignoring_sigxcpu(cpu_sb):
    prog = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass"
    check(cpu_sb.run(prog, ["assert True"]), "cpu_limit")


def test_sleep_forever(sb):
    check(sb.run("import time\nwhile True:\n    time.sleep(1)", ["assert True"]), "timeout")


def test_fork_bomb(sb):
    check(sb.run("import os\nwhile True:\n    os.fork()", ["assert True"]), "process_limit")
    if CAPS["no_stray_processes"] and CAPS["unprivileged_uid"]:
        assert no_sandbox_processes() == []


@needs("no_stray_processes")
def test_fork_bomb_of_escaping_daemons(sb):
    prog = ("import os, time\nfor _ in range(200):\n    try:\n        if os.fork() == 0:\n"
            "            os.setsid()\n            time.sleep(120)\n    except OSError:\n        pass\ntime.sleep(120)")
    check(sb.run(prog, ["assert True"]), "timeout")
    if CAPS["unprivileged_uid"]:
        assert no_sandbox_processes() == []  # setsid did not save them: they died with the pid namespace


@pytest.mark.parametrize("prog", ["x = bytearray(8 << 30)",
                                  "chunks = []\nwhile True:\n    chunks.append(bytearray(1 << 24))"])
def test_memory_bomb(sb, prog):
    check(sb.run(prog, ["assert True"]), "memory_limit")


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_print_gigabytes(sb, stream):
    r = sb.run(f"import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(8 << 10):\n    sys.{stream}.write(chunk)",
               ["assert True"])
    check(r, "output_limit")
    assert len(r.stdout) + len(r.stderr) <= 2 * 200_000  # read with a cap, never buffered whole


@pytest.mark.parametrize("prog", ["with open('big', 'wb') as f:\n    for _ in range(64):\n        f.write(b'x' * (1 << 20))",
                                  "for i in range(100_000):\n    open(f'f{i}', 'w').close()"])
def test_disk_filling(sb, prog):
    check(sb.run(prog, ["assert True"]), "file_size_limit")


@needs("private_tmp")
def test_write_outside_temp_dir(sb, tmp_path):
    name = f"pwned-{uuid.uuid4().hex}"
    targets = [tmp_path / name, Path("/tmp") / name, Path("/var/tmp") / name, Path("/dev/shm") / name]
    if CAPS["unprivileged_uid"]:
        targets.append(Path(__file__).parent / name)  # the source tree: the caller's own files
    prog = (f"targets = {[str(t) for t in targets]!r}\nescaped = []\nfor t in targets:\n    try:\n"
            "        open(t, 'w').write('x')\n        escaped.append(t)\n    except OSError:\n        pass\n"
            "print(escaped)")
    try:
        check(sb.run(prog, ["assert escaped == targets"]), "tests_failed")
    finally:
        present = [t for t in targets if t.exists()]
        for t in present:
            t.unlink()
    assert present == []


def _mode_works(mode: str) -> bool:
    return Sandbox(Limits(wall_s=10), workers=1, mode=mode).run("pass").ok


@needs("private_tmp")
@pytest.mark.parametrize("mode", ["full", "userns"])
def test_unmount_private_tmp(mode):
    """Root inside a user namespace could unmount the private /tmp and write the host's beneath."""
    if mode == "full" and CAPS["mode"] != "full" or not _mode_works(mode):
        pytest.skip(f"mode {mode} does not run on this host")
    name = f"pwned-{uuid.uuid4().hex}"
    prog = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "undone = [libc.umount2(p, 2) == 0 for p in (b'/tmp', b'/proc')]\n"
            "libc.unshare(0x10000000 | 0x20000)  # a user and mount namespace of its own, then again\n"
            "undone += [libc.umount2(p, 2) == 0 for p in (b'/tmp', b'/proc')]\n"
            f"open('/tmp/{name}', 'w').write('x')\nprint(undone)")
    r = Sandbox(Limits(wall_s=10), workers=1, mode=mode).run(prog, ["assert any(undone)"])
    host = Path("/tmp") / name
    present = host.exists()
    host.unlink(missing_ok=True)
    check(r, "tests_failed")
    assert r.stdout.strip() == "[False, False, False, False]" and not present


def test_read_parent_environment(sb, monkeypatch):
    secret = uuid.uuid4().hex
    monkeypatch.setenv("DATALADDER_SECRET_TOKEN", secret)
    prog = ("import os\nblob = repr(dict(os.environ))\nfor pid in os.listdir('/proc'):\n    try:\n"
            "        blob += open(f'/proc/{pid}/environ', 'rb').read().decode('latin-1')\n    except OSError:\n"
            "        pass\nprint(blob)")
    r = sb.run(prog, ["assert 'DATALADDER_SECRET_TOKEN' in blob"])
    if not (CAPS["private_proc"] or CAPS["unprivileged_uid"]):
        pytest.skip(f"mode {CAPS['mode']}: a same-uid child can read /proc/<parent>/environ")
    check(r, "tests_failed")
    assert secret not in r.stdout


@needs("network_isolated")
def test_open_socket(sb):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    prog = (f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "s.sendall(b'pwned')\nconnected = True")
    try:
        r = sb.run(prog, ["assert connected"])
        server.setblocking(False)
        with pytest.raises(BlockingIOError):  # the kernel would have queued a connection from the child
            server.accept()
    finally:
        server.close()
    check(r, "crashed")
    assert "Network is unreachable" in r.detail or "Connection refused" in r.detail
    check(sb.run("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)", ["assert True"]), "crashed")


@needs("parent_unsignalable")
def test_kill_the_parent(sb):
    me, pgid = os.getpid(), os.getpgid(0)
    prog = (f"import os, signal\nhits = []\nattempts = [lambda: os.kill({me}, signal.SIGKILL), "
            f"lambda: os.killpg({pgid}, signal.SIGKILL), lambda: os.kill(os.getppid(), signal.SIGKILL), "
            "lambda: os.kill(-1, signal.SIGKILL), lambda: os.kill(1, signal.SIGTERM)]\n"
            "for i, attempt in enumerate(attempts):\n    try:\n        attempt()\n        hits.append(i)\n"
            "    except OSError:\n        pass\nprint(hits)")
    check(sb.run(prog, ["assert hits"]), "tests_failed")
    r = sb.run("import os, signal\nos.killpg(0, signal.SIGKILL)", ["assert True"])
    check(r, "killed")  # its own process group: only itself dies
    assert os.getpid() == me  # still here


def test_all_at_once_then_still_serving(sb):
    """Many attacks in parallel through the pool, benign programs among them, then one more benign."""
    benign = ("def add(a, b):\n    return a + b", ["assert add(2, 3) == 5"])
    jobs = [benign, ("import os\nwhile True:\n    os.fork()", ["assert True"]),
            ("x = bytearray(8 << 30)", ["assert True"]), benign,
            ("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", ["assert True"]), benign]
    got = [(r.ok, r.reason) for r in sb.run_many(jobs)]
    assert got == [(True, None), (False, "process_limit"), (False, "memory_limit"), (True, None),
                   (False, "output_limit"), (True, None)]
    assert get_verifier("python-tests")("def f():\n    return 1", None, tests=["assert f() == 1"]) == (True, None)
    if CAPS["no_stray_processes"] and CAPS["unprivileged_uid"]:
        assert no_sandbox_processes() == []
    assert signal.getsignal(signal.SIGTERM) is not None  # the test process is alive and well
