import dataclasses
import json
import re
import socket
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from dataladder.cli.main import app
from dataladder.data.synth import SOURCES, SynthConfig, Tally, cache_path, run_synth, synthesize
from dataladder.skills import Item, get_skill
from dataladder.verify import get_verifier

runner = CliRunner()
numeric = get_verifier("numeric")


def mul_item(key: str, answer: str) -> Item:
    a, b = (int(x) for x in key.split("*"))
    return Item(skill="mul", key=key, answer=answer, data={"operands": [a, b]})


def assert_clean(records, skill_name="mul"):
    """Every record verifies, none is an eval item, no two are the same."""
    sk = get_skill(skill_name)
    for r in records:
        assert numeric(r["completion"], r["answer"]).ok
        assert not sk.is_eval(mul_item(r["provenance"]["key"], r["answer"]))
    assert len({(r["prompt"], r["completion"]) for r in records}) == len(records)


def test_template_mul_2000_all_pass_numeric_none_eval_no_duplicates():
    records, stats = synthesize(SynthConfig(skill="mul", n=2000, source="template"))
    assert len(records) == 2000 and stats["written"] == 2000
    assert_clean(records)
    eval_prompts = {get_skill("mul").formats["exam"].prompt(it) for it in get_skill("mul").items("eval", 1000, 0)}
    assert not eval_prompts & {r["prompt"] for r in records}
    assert stats["candidates"] == stats["accepted"] == 2000 and stats["rejected"] == {}
    assert stats["duplicates"] == 0 and stats["eval_skipped"] == 0
    assert all(r["prompt"].startswith("Question: ") and r["source"] == "template" for r in records)


def test_eval_items_from_a_leaky_generator_are_skipped_and_counted(monkeypatch):
    import dataladder.skills.spec as skills_spec

    sk = get_skill("mul")
    leaked = sk.items("eval", 7, 0)

    def leaky(split, n, seed):  # a buggy generator that mixes eval items into the train split
        train = sk.items(split, n, seed)
        return [leaked[i // 3] if i % 3 == 0 and i // 3 < len(leaked) else it for i, it in enumerate(train)]

    monkeypatch.setattr(skills_spec, "train_skill", lambda spec, prompts_file=None: dataclasses.replace(sk, items=leaky))
    records, stats = synthesize(SynthConfig(skill="mul", n=50, source="template"))
    assert stats["eval_skipped"] == 7
    assert not {r["provenance"]["key"] for r in records} & {it.key for it in leaked}
    assert_clean(records)


def test_cli_template_writes_records_and_stats(tmp_path):
    out = tmp_path / "synth" / "mul.jsonl"
    r = runner.invoke(app, ["synth", "--skill", "mul", "--n", "120", "--source", "template", "--output", str(out)])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 120
    assert set(lines[0]) == {"prompt", "completion", "skill", "answer", "source", "provenance"}
    stats = json.loads((tmp_path / "synth" / "mul.stats.json").read_text())
    for k in ("candidates", "accepted", "acceptance_rate", "ci_low", "ci_high", "rejected", "duplicates",
              "eval_skipped", "written"):
        assert k in stats
    assert stats["written"] == 120 and stats["output"] == str(out)
    assert not list(out.parent.glob("*.tmp"))


def test_messages_format(tmp_path):
    out = tmp_path / "m.jsonl"
    r = runner.invoke(app, ["synth", "--skill", "add", "--n", "5", "--messages", "--output", str(out)])
    assert r.exit_code == 0, r.output
    rec = json.loads(out.read_text().splitlines()[0])
    assert [m["role"] for m in rec["messages"]] == ["user", "assistant"] and "prompt" not in rec
    assert numeric(rec["messages"][1]["content"], rec["answer"]).ok


def test_budget_stops_and_says_how_many():
    records, stats = synthesize(SynthConfig(skill="mul", n=500, source="template", max_candidates=100))
    assert len(records) == 100 and stats["stopped"] == "max-candidates" and stats["requested"] == 500


def test_design_effect_spans_independent_to_fully_correlated():
    t = Tally(candidates=400, accepted=200, per_prompt=[4, 0] * 50)  # each prompt all right or all wrong
    a = t.acceptance(4)
    assert a["design_effect"] == pytest.approx(4.0) and a["effective_n"] == pytest.approx(100)
    assert a["prompt_ci_high"] - a["prompt_ci_low"] > a["ci_high"] - a["ci_low"]
    t = Tally(candidates=400, accepted=200, per_prompt=[2] * 100)  # no spread between prompts
    assert t.acceptance(4)["design_effect"] == 1.0


def test_sources_registry_did_you_mean():
    with pytest.raises(KeyError, match="did you mean 'endpoint'"):
        SOURCES.get("endpiont")


# --- a real OpenAI-compatible server on loopback ------------------------------------------------

WORDS = {"plus": lambda a, b: a + b, "times": lambda a, b: a * b, "minus": lambda a, b: a - b}


class Teacher(ThreadingHTTPServer):
    """Answers exam prompts right, except a planted wrong answer for choices picked by a hash."""

    def __init__(self, mode="ok", fail_after=None):
        super().__init__(("127.0.0.1", 0), TeacherHandler)
        self.mode, self.fail_after = mode, fail_after
        self.lock = threading.Lock()
        self.requests, self.planted, self.prompts = 0, 0, []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class TeacherHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        srv: Teacher = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with srv.lock:
            srv.requests += 1
            failing = srv.mode == "500" or (srv.fail_after is not None and srv.requests > srv.fail_after)
        if self.path != "/v1/chat/completions" or failing:
            return self._send(500, b'{"error": "boom"}')
        if srv.mode == "not-json":
            return self._send(200, b"<html>hello</html>")
        if srv.mode == "no-choices":
            return self._send(200, b'{"object": "chat.completion"}')
        if srv.mode == "empty-choices":
            return self._send(200, b'{"choices": []}')
        prompt = body["messages"][-1]["content"]
        a, op, b = re.search(r"What is (\d+) (\w+) (\d+)", prompt).groups()
        right = WORDS[op](int(a), int(b))
        choices = []
        for j in range(body.get("n", 1)):
            wrong = zlib.crc32(f"{prompt}|{j}".encode()) % 5 == 0
            ans = right + 1 if wrong else right
            text = f"The answer is {ans}." if j % 2 else f"{ans}"
            choices.append({"index": j, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"})
            with srv.lock:
                srv.planted += wrong
        with srv.lock:
            srv.prompts.append(prompt)
        doc = {"id": "x", "object": "chat.completion", "model": body["model"], "choices": choices}
        self._send(200, json.dumps(doc).encode())

    def _send(self, code, payload):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def teacher_factory():
    servers = []

    def make(**kw):
        s = Teacher(**kw)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.shutdown()
        s.server_close()


def endpoint_cfg(url, **kw):
    return SynthConfig(skill="mul", source="endpoint", endpoint_url=url, endpoint_model="teacher",
                       **{"n": 100, "k": 3, "concurrency": 4, **kw})


def test_endpoint_keeps_verified_answers_and_counts_planted_wrong_ones(teacher_factory, tmp_path):
    srv = teacher_factory()
    out = tmp_path / "t.jsonl"
    stats = run_synth(endpoint_cfg(srv.url), out)
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(records) == 100 and stats["written"] == 100
    assert_clean(records)
    assert srv.planted > 0
    assert stats["rejected"] == {"wrong_answer": srv.planted}
    assert stats["candidates"] == 3 * srv.requests == 3 * stats["prompts"]
    assert stats["accepted"] == stats["candidates"] - srv.planted
    assert stats["ci_low"] <= stats["acceptance_rate"] <= stats["ci_high"]
    assert all(p.startswith("Question: ") for p in srv.prompts)  # the write format by default
    assert records[0]["provenance"]["model"] == "teacher" and records[0]["source"] == "endpoint"
    assert not cache_path(out).exists()


def test_endpoint_resumes_from_its_cache_without_asking_again(teacher_factory, tmp_path):
    ref_srv = teacher_factory()
    ref = run_synth(endpoint_cfg(ref_srv.url, concurrency=1), tmp_path / "ref.jsonl")
    # the first run dies after 120 requests (the prompts answered before that are cached)
    flaky = teacher_factory(fail_after=120)
    out = tmp_path / "r.jsonl"
    with pytest.raises(ValueError, match="HTTP 500"):
        run_synth(endpoint_cfg(flaky.url, concurrency=1, n=400), out)
    assert not out.exists() and cache_path(out).exists()
    cached = len(cache_path(out).read_text().splitlines()) - 1
    assert cached > 0
    srv = teacher_factory()
    stats = run_synth(endpoint_cfg(srv.url, concurrency=1, n=400), out)
    assert stats["written"] == 400
    assert srv.requests == stats["prompts"] - cached  # cached prompts were not asked again
    strip = lambda rs: [(r["prompt"], r["completion"], r["provenance"]["sampled"]) for r in rs]  # noqa: E731
    assert strip(json.loads(x) for x in out.read_text().splitlines())[:100] == \
        strip(json.loads(x) for x in (tmp_path / "ref.jsonl").read_text().splitlines())
    assert ref["written"] == 100


@pytest.mark.parametrize("mode,message", [("down", "cannot connect"), ("500", "HTTP 500"),
                                          ("not-json", "not JSON"), ("no-choices", "choices"),
                                          ("empty-choices", "choices")])
def test_endpoint_errors_are_one_line_exit_2_nothing_written(teacher_factory, tmp_path, mode, message):
    if mode == "down":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
        s.close()
    else:
        url = teacher_factory(mode=mode).url
    out = tmp_path / "e.jsonl"
    r = runner.invoke(app, ["synth", "--skill", "mul", "--n", "10", "--source", "endpoint", "--endpoint-url", url,
                            "--endpoint-model", "teacher", "--output", str(out)])
    assert r.exit_code == 2
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and message in lines[0] and url in lines[0], r.output
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args,message", [
    (["--skill", "mul", "--source", "tempalte"], "did you mean 'template'"),
    (["--skill", "mull"], "did you mean 'mul'"),
    (["--skill", "mul", "--source", "self"], "needs --model"),
    (["--skill", "mul", "--source", "endpoint"], "needs --endpoint-url"),
    (["--skill", "mul", "--source", "endpoint", "--endpoint-url", "localhost:8000", "--endpoint-model", "m"],
     "expected http://"),
    (["--skill", "mul", "--write-format", "exma"], "did you mean 'exam'"),
    (["--skill", "mul", "--n", "0"], "positive"),
    (["--skill", "mul", "--trl-format", "chat"], "--trl-format"),
])
def test_cli_bad_input_exits_2_before_work(tmp_path, args, message):
    out = tmp_path / "x.jsonl"
    r = runner.invoke(app, ["synth", *args, "--output", str(out)])
    assert r.exit_code == 2 and message in r.output, r.output
    assert not list(tmp_path.iterdir())


def test_cli_jsonl_skill_without_train_items_stops_before_work(tmp_path):
    p = tmp_path / "u.jsonl"
    p.write_text('{"skill": "capital", "split": "eval", "prompt": "Capital of France?", "completion": " Paris"}\n')
    r = runner.invoke(app, ["synth", "--skill", str(p), "--output", str(tmp_path / "o" / "x.jsonl")])
    assert r.exit_code == 2 and "no train items" in r.output and "split" in r.output, r.output
    assert not (tmp_path / "o").exists()


def test_jsonl_skill_train_split_feeds_synth_with_its_verifier_fields(tmp_path):
    """`split: train` items (and the hash share of unmarked ones) are the skill's train partition; a written record
    carries what its verifier needs, so curate can check it again."""
    p = tmp_path / "u.jsonl"
    lines = [{"skill": "code", "split": "eval", "verifier": "python-tests", "tests": ["assert f() == 1"],
              "prompt": "Write f returning 1.", "completion": "def f():\n    return 1"}]
    lines += [{"skill": "code", "split": "train", "verifier": "python-tests", "tests": [f"assert g{k}() == {k}"],
               "prompt": f"Write g{k} returning {k}.", "completion": f"def g{k}():\n    return {k}"} for k in range(5)]
    p.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "o" / "x.jsonl"
    r = runner.invoke(app, ["synth", "--skill", str(p), "--n", "10", "--output", str(out)])
    assert r.exit_code == 0, r.output
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(recs) == 5 and all(rec["tests"] and rec["verifier"] == "python-tests" for rec in recs)
    assert "Write f returning 1." not in {rec["prompt"] for rec in recs}  # the eval item never
    stats = json.loads(out.with_suffix(".stats.json").read_text())
    assert stats["stopped"] == "train-partition-exhausted"
    cur = runner.invoke(app, ["curate", str(out), "--output-dir", str(tmp_path / "c"), "--eval-skill", str(p)])
    assert cur.exit_code == 0, cur.output
    assert len((tmp_path / "c" / "kept.jsonl").read_text().splitlines()) == 5  # every program kept, verified


# --- rejection sampling from the shipped model -------------------------------------------------

@pytest.mark.integration
def test_self_acceptance_agrees_with_greedy_accuracy_on_tiny_arith(tmp_path):
    out = tmp_path / "self.jsonl"
    stats = run_synth(SynthConfig(skill="mul", n=300, source="self", model="tiny-arith", k=4, temperature=0.5), out)
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(records) == 300 and stats["written"] == 300
    assert_clean(records)
    assert all(r["prompt"].startswith("Question: ") for r in records)  # sampled in native, written in exam
    assert {r["provenance"]["sample_format"] for r in records} == {"native"}
    g = stats["greedy"]
    assert g["n"] == stats["prompts"] and stats["candidates"] == 4 * stats["prompts"]
    rate = stats["acceptance_rate"]
    # the sampled acceptance rate and greedy accuracy on the same prompts agree within their intervals
    assert stats["prompt_ci_low"] <= g["accuracy"] <= stats["prompt_ci_high"]
    assert g["ci_low"] <= rate <= g["ci_high"]
    assert 0.3 < rate < 1.0  # tiny-arith partly knows mul: a real filter, not all-or-nothing
    assert sum(stats["rejected"].values()) == stats["candidates"] - stats["accepted"]


def test_probe_accuracy_shown_alongside_and_bad_probe_file_exits_2(tmp_path):
    probe = tmp_path / "probe.json"
    probe.write_text(json.dumps({"model": "m", "skills": {"mul": {"formats": {"exam": {
        "accuracy": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n": 100, "correct": 50}}}}}))
    out = tmp_path / "o.jsonl"
    r = runner.invoke(app, ["synth", "--skill", "mul", "--n", "2", "--source", "self", "--model", "tiny-arith", "--k", "1",
                            "--sample-format", "exam", "--probe", str(probe), "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert "probe accuracy, eval partition" in r.output
    st = json.loads((tmp_path / "o.stats.json").read_text())
    assert st["probe"]["accuracy"] == 0.5 and st["probe"]["split"] == "eval"
    r = runner.invoke(app, ["synth", "--skill", "mul", "--n", "10", "--probe", str(probe), "--output", str(out)])
    assert r.exit_code == 2 and "--source template with --probe: they contradict" in r.output  # no model to compare
    r = runner.invoke(app, ["synth", "--skill", "add", "--n", "10", "--source", "self", "--model", "tiny-arith", "--probe", str(probe),
                            "--output", str(tmp_path / "p" / "o.jsonl")])
    assert r.exit_code == 2 and f"{probe}: field 'skills.add.formats.native'" in r.output  # self samples natively
    assert not (tmp_path / "p").exists()
