import os

import pytest

from dataladder.verify import get_verifier, verify_batch
from dataladder.verify.code import extract_block, item_tests
from dataladder.verify.sandbox import Limits, Sandbox, sandbox_capabilities


@pytest.fixture(scope="module")
def sb():
    box = Sandbox(Limits(wall_s=10, cpu_s=2, memory_mb=256, output_bytes=50_000), workers=2)
    yield box
    box.close()


def test_limits_parse():
    assert Limits.parse(None) == Limits()
    assert Limits.parse("wall_s=2.5,memory_mb=128") == Limits(wall_s=2.5, memory_mb=128)
    for bad, match in [("wall=3", "key one of"), ("cpu_s=x", "not a number"), ("cpu_s=0", "positive"), ("cpu_s", "key=value")]:
        with pytest.raises(ValueError, match=match):
            Limits.parse(bad)


def test_capabilities_report_a_mode():
    caps = sandbox_capabilities()
    assert caps["mode"] in ("full", "userns", "plain")
    assert caps["network_isolated"] == (caps["mode"] != "plain")
    assert caps["wall_timeout"] and caps["output_cap"] and "cpu" in caps["rlimits"]


def test_pass_fail_counts(sb):
    prog = "def double(x):\n    return 2 * x\n"
    r = sb.run(prog, ["assert double(2) == 4", "assert double(3) == 6"])
    assert (r.ok, r.reason, r.tests_passed, r.tests_total) == (True, None, 2, 2)
    r = sb.run(prog, ["assert double(2) == 4", "assert double(3) == 7", "assert double(0) == 0"])
    assert (r.ok, r.reason, r.tests_passed, r.tests_total) == (False, "tests_failed", 2, 3)
    assert "test 1" in r.detail and "AssertionError" in r.detail
    r = sb.run(prog, ["assert double('a') + 1"])
    assert r.reason == "tests_failed" and "TypeError" in r.detail


def test_syntax_crash_bad_tests(sb):
    assert sb.run("def f(:\n  pass", ["assert True"]).reason == "syntax_error"
    r = sb.run("raise KeyError('boom')", ["assert True"])
    assert r.reason == "crashed" and "KeyError" in r.detail
    assert sb.run("x = 1", ["assert x ==="]).reason == "bad_tests"


def test_output_stdin_and_clean_cwd(sb):
    r = sb.run("import os, sys\nprint(sys.stdin.read().upper())\nprint(sorted(os.listdir('.')))", stdin="hi there")
    assert r.ok and r.stdout.splitlines() == ["HI THERE", "[]"]
    r = sb.run("import sys; sys.stderr.write('warn')")
    assert r.ok and r.stderr == "warn"


def test_program_without_tests_exit_codes(sb):
    assert sb.run("import sys; sys.exit(0)").ok
    r = sb.run("import sys; sys.exit(3)")
    assert (r.ok, r.reason) == (False, "exited")


@pytest.mark.parametrize("cheat", [
    "import os; os._exit(0)",                                        # leave before the tests run
    "import sys; sys.exit(0)",
    "import builtins; builtins.exec = lambda *a, **k: None",         # make the tests no-ops
    "import os\nos._exit = lambda c: None\nos.write = lambda *a: 0",
    "import sys\ndef t(frame, event, arg):\n    if event == 'line' and frame.f_code.co_filename.startswith('test'):\n"
    "        frame.f_lineno = frame.f_lineno + 1\n    return t\nsys.settrace(t)",
    "import os\nif os.fork() == 0:\n    def f(): return 1\nelse:\n    import time; time.sleep(0.2); raise SystemExit(1)",
])
def test_cheats_do_not_pass(sb, cheat):
    r = sb.run(cheat + "\ndef f(): return 0\n", ["assert f() == 1"])
    assert not r.ok, cheat


def test_run_many_keeps_order(sb):
    jobs = [(f"def f(): return {i}", [f"assert f() == {i if i % 3 else -1}"]) for i in range(8)]
    results = sb.run_many(jobs)
    assert [r.ok for r in results] == [i % 3 != 0 for i in range(8)]
    assert all(r.reason == "tests_failed" for r in results if not r.ok)


@pytest.mark.integration  # waits out a wall-clock timeout
def test_plain_mode_limits():
    box = Sandbox(Limits(wall_s=1.5, cpu_s=1, output_bytes=10_000), workers=1, mode="plain")
    assert box.run("def f(): return 1", ["assert f() == 1"]).ok
    r = box.run("import os; print(os.getcwd())")
    cwd = r.stdout.strip()
    assert r.ok and "dataladder-sandbox-" in cwd and not os.path.exists(cwd)  # its temp dir is removed
    assert box.run("import time; time.sleep(30)").reason == "timeout"
    assert box.run("while True: print('x' * 1000)").reason == "output_limit"


def test_extract_block():
    text = "Here:\n```python\ndef f():\n    return 1\n```\nand ```json\n{}\n```"
    assert extract_block(text, ("python",)) == "def f():\n    return 1\n"
    assert extract_block(text, ("json",)) == "{}\n"
    assert extract_block("```\nx = 1\n```", ("python",)) == "x = 1\n"
    assert extract_block("x = 1", ("python",)) == "x = 1"
    assert extract_block("```python\nx = 1", ("python",)) == "x = 1"  # unclosed fence at the end


def test_tests_of_item_fields():
    assert item_tests(None, {"tests": "assert 1"}) == ["assert 1"]
    assert item_tests(None, {"test_list": ["assert 1", "assert 2"]}) == ["assert 1", "assert 2"]
    assert item_tests("assert 3", {}) is None  # the answer is never its own test: 'x = 1' would pass
    assert item_tests(None, {"test": "def check(c): assert c() == 1", "entry_point": "f"}) == [
        "def check(c): assert c() == 1", "check(f)"]
    assert item_tests(None, {}) is None and item_tests("  ", {}) is None and item_tests(None, {"tests": [1]}) is None


def test_python_tests_verifier():
    v = get_verifier("python-tests:wall_s=10,cpu_s=1")
    assert v.limits == Limits(wall_s=10, cpu_s=1)
    fenced = "Sure:\n```python\ndef add(a, b):\n    return a + b\n```\n"
    assert v(fenced, None, tests=["assert add(1, 2) == 3"]) == (True, None)
    assert v("def add(a, b): return a - b", None, tests="assert add(1, 2) == 3") == (False, "tests_failed")
    assert v("x = 1", "x = 1") == (False, "no_tests")
    assert v("def add(a, b): return a + b", None) == (False, "no_tests")
    humaneval = {"test": "def check(candidate):\n    assert candidate(2, 2) == 4\n", "entry_point": "add"}
    assert v("def add(a, b): return a + b", None, **humaneval).ok
    verdicts = verify_batch(v, ["def add(a, b): return a + b", "def add(a, b): return 0", "def add(a, b) return"],
                            [None] * 3, [{"tests": "assert add(2, 2) == 4"}] * 3)
    assert verdicts == [(True, None), (False, "tests_failed"), (False, "syntax_error")]
    with pytest.raises(ValueError, match="key one of"):
        get_verifier("python-tests:walltime=3")


def test_verify_batch_without_many():
    assert verify_batch(get_verifier("numeric"), ["1,000", "4.0", "5"], ["1000", "4", "6"]) == [
        (True, None), (True, None), (False, "wrong_answer")]


def test_cli_sandbox(tmp_path):
    from typer.testing import CliRunner

    from dataladder.cli.main import app

    (tmp_path / "prog.py").write_text("def f(x):\n    return x + 1\nprint('hi')\n")
    (tmp_path / "good.py").write_text("assert f(1) == 2\n")
    (tmp_path / "bad.py").write_text("assert f(1) == 3\n")
    runner = CliRunner()
    r = runner.invoke(app, ["sandbox", str(tmp_path / "prog.py"), "--tests", str(tmp_path / "good.py")])
    assert r.exit_code == 0 and "network_isolated" in r.output and "verdict: ok" in r.output and "hi" in r.output
    r = runner.invoke(app, ["sandbox", str(tmp_path / "prog.py"), "--tests", str(tmp_path / "bad.py")])
    assert r.exit_code == 1 and "tests_failed" in r.output
    r = runner.invoke(app, ["sandbox", "--limits", "wall=3"])
    assert r.exit_code == 2 and "wall_s" in r.output
