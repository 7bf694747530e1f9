"""The child side of the code sandbox: `python -I -S -c <this file's text>`, started by sandbox.py.

Not imported by the package. It reads one marshalled payload from stdin, isolates itself, runs
the candidate program and then its tests, and writes one tab-separated line to the result pipe:
`<nonce> <status> <passed> <total> <detail>`. In the namespace modes the process tree is

    O  (root, host pid namespace)  unshare(net, pid, mount) → fork → waits for A
    A  (pid 1 of the new namespace) private /tmp and /proc → fork → waits for B, reports its exit
    B  (pid 2, unprivileged uid, rlimits)  runs the program and the tests

so the user code is never pid 1 (pid 1 ignores default-action signals such as SIGXCPU) and dies
with A: when a pid namespace's init exits, the kernel kills everything left in it (fork bombs,
daemons that called setsid). Standard library only, and no `import ctypes` (it costs ~6 ms of
start-up per candidate): libc is called through `_ctypes` directly.
"""

import errno
import os
import sys

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
# world-writable places other than /tmp: made read-only and empty inside the mount namespace
READONLY_TMPS = ("/var/tmp", "/dev/shm", "/run/lock", "/var/lock")


def _libc():
    import _ctypes

    class c_ulong(_ctypes._SimpleCData):
        _type_ = "L"

    class c_int(_ctypes._SimpleCData):
        _type_ = "i"

    class Fn(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
        _restype_ = c_int

    handle = _ctypes.dlopen(None)
    fns = {n: Fn(_ctypes.dlsym(handle, n)) for n in ("unshare", "mount", "prctl")}

    def call(name, *args):
        conv = [c_ulong(a) if isinstance(a, int) else a for a in args]
        if fns[name](*conv) != 0:
            err = _ctypes.get_errno()
            raise OSError(err, f"{name}{args!r}: {os.strerror(err)}")

    return call


def _write_file(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _isolate(cfg, report):
    """O and A: namespaces, private /tmp and /proc. Returns only in B."""
    libc = _libc()
    libc("prctl", PR_SET_PDEATHSIG, 9, 0, 0, 0)  # O dies with the thread that started it
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS
    if cfg["mode"] == "userns":
        libc("unshare", flags | CLONE_NEWUSER)
        _write_file("/proc/self/setgroups", "deny")
        _write_file("/proc/self/uid_map", f"0 {uid} 1")
        _write_file("/proc/self/gid_map", f"0 {gid} 1")
    else:
        libc("unshare", flags)
    a = os.fork()
    if a:  # O: wait for A; A reports B's fate
        os.waitpid(a, 0)
        os._exit(0)
    # A, pid 1 of the new pid namespace
    libc("prctl", PR_SET_PDEATHSIG, 9, 0, 0, 0)
    libc("mount", b"none", b"/", None, MS_REC | MS_PRIVATE, None)
    owner = cfg["uid"] if cfg["mode"] == "full" else 0
    opts = f"size={cfg['tmp_kb']}k,nr_inodes=4096,mode=0700,uid={owner},gid={owner}"
    libc("mount", b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, opts.encode())
    for d in READONLY_TMPS:
        if os.path.isdir(d) and not os.path.islink(d):
            libc("mount", b"tmpfs", d.encode(), b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, b"size=4k")
    if cfg["expose"]:  # the interpreter lives under a directory the sandbox uid may not enter (/root)
        hide, keep = cfg["expose"]
        fd = os.open(keep, os.O_PATH | os.O_DIRECTORY)
        libc("mount", b"tmpfs", hide.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k,mode=0755")
        os.makedirs(keep, 0o755, exist_ok=True)
        libc("mount", f"/proc/self/fd/{fd}".encode(), keep.encode(), None, MS_BIND | MS_REC, None)
        libc("mount", b"none", keep.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)
        os.close(fd)
    libc("mount", b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    b = os.fork()
    if b:
        while True:  # as init, reap orphans too, until B is gone
            pid, status, usage = os.wait4(-1, 0)
            if pid == b:
                report("exit", status, f"{usage.ru_utime + usage.ru_stime:.3f}")
                os._exit(0)
    return libc


def _limit(cfg):
    import resource as r

    for name, value in (("RLIMIT_CORE", 0), ("RLIMIT_AS", cfg["memory"]), ("RLIMIT_FSIZE", cfg["fsize"]),
                        ("RLIMIT_NOFILE", cfg["nofile"]), ("RLIMIT_NPROC", cfg["nproc"])):
        r.setrlimit(getattr(r, name), (value, value))
    r.setrlimit(r.RLIMIT_CPU, (cfg["cpu"], cfg["cpu"] + 1))  # SIGXCPU first, SIGKILL a second later


def _classify(e, testing):
    if isinstance(e, MemoryError):
        return "memory_limit"
    if isinstance(e, OSError) and e.errno in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
        return "file_size_limit"
    if isinstance(e, OSError) and e.errno == errno.EAGAIN or "can't start new thread" in _describe(e):
        return "process_limit"
    if isinstance(e, SystemExit):
        return "exited"
    return "tests_failed" if testing else "crashed"


def _describe(e):
    try:
        text = f"{type(e).__name__}: {e}"
    except BaseException:
        text = type(e).__name__
    return " ".join(text.split())[:400]


def _run(cfg, nonce):
    """B: run the program, then each test in the program's namespace; report once."""
    # Bound now: the program may rebind builtins or os attributes before the tests run.
    _exec, _compile, _write, _exit, _getpid = exec, compile, os.write, os._exit, os.getpid
    _settrace, _setprofile, _stdout, _stderr = sys.settrace, sys.setprofile, sys.stdout, sys.stderr
    me, fd, tests = _getpid(), cfg["result_fd"], cfg["tests"]

    def finish(status, passed=0, detail=""):
        if _getpid() == me:  # a forked child of the program never reports
            for f in (_stdout, _stderr):
                try:
                    f.flush()
                except BaseException:
                    pass
            _write(fd, f"{nonce}\t{status}\t{passed}\t{len(tests)}\t{detail}\n".encode("utf-8", "replace"))
        _exit(0 if status == "ok" else 1)

    try:
        code = _compile(cfg["program"], "main.py", "exec")
    except BaseException as e:
        finish("syntax_error", 0, _describe(e))
    try:
        compiled = [_compile(t, f"test_{i}.py", "exec") for i, t in enumerate(tests)]
    except BaseException as e:
        finish("bad_tests", 0, _describe(e))
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    sys.argv = ["main.py"]
    try:
        _exec(code, ns)
    except SystemExit as e:
        if tests or e.code not in (None, 0):
            finish("exited", 0, f"the program exited ({_describe(e)}) before its tests ran" if tests else _describe(e))
    except BaseException as e:
        finish(_classify(e, False), 0, _describe(e))
    _settrace(None)  # a trace function could jump over the asserts
    _setprofile(None)
    passed, failure = 0, None
    for i, test in enumerate(compiled):
        try:
            _exec(test, ns)
            passed += 1
        except BaseException as e:
            failure = failure or (_classify(e, True), f"test {i}: {_describe(e)}")
    if failure:
        finish(failure[0], passed, failure[1])
    finish("ok", passed, "")


def main():
    import marshal

    cfg = marshal.loads(sys.stdin.buffer.read())
    nonce = cfg.pop("nonce")
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.close(null)

    def report(status, *fields):
        os.write(cfg["result_fd"], "\t".join([nonce, status, *map(str, fields)]).encode() + b"\n")

    libc = None
    try:
        if cfg["mode"] in ("full", "userns"):
            libc = _isolate(cfg, report)
        os.chdir(cfg["workdir"])
        if cfg["stdin"] is not None:
            fd = os.memfd_create("stdin")
            os.write(fd, cfg["stdin"].encode())
            os.lseek(fd, 0, 0)
            os.dup2(fd, 0)
            os.close(fd)
        _limit(cfg)
        if cfg["uid"] is not None and cfg["mode"] in ("full", "plain"):
            os.setgroups([])
            os.setresgid(cfg["uid"], cfg["uid"], cfg["uid"])
            os.setresuid(cfg["uid"], cfg["uid"], cfg["uid"])
        if cfg["mode"] == "userns":
            # B is root of A's user namespace, so it could unmount the private /tmp and /proc and
            # reach the host's below; in a nested user namespace it holds no capability over them
            libc("unshare", CLONE_NEWUSER)
        if libc is not None:
            libc("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # no setuid binary gives the privileges back
    except BaseException as e:
        report("setup_error", 0, 0, _describe(e))
        os._exit(70)
    _run(cfg, nonce)


main()
