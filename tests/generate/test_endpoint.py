"""The `endpoint` backend against a real local OpenAI-compatible server (tests/helpers/openai_server.py: plain
transformers, no dataladder.generate code). Tests whose server only fails load no model and run by default;
tests that generate load one and are marked integration."""

import json
import socket

import pytest

from dataladder.generate import GenOptions, make_generator
from dataladder.generate.endpoint import Endpoint, EndpointError
from dataladder.skills import get_skill
from tests.helpers.openai_server import OpenAIServer, serve


def endpoint_gen(url: str, api: str = "completions", **kw):
    gen = make_generator(GenOptions(backend="endpoint", endpoint_url=url, endpoint_model="m", endpoint_api=api, **kw))
    gen.client.backoff = 0.01
    return gen


def add_prompts(gen, n: int, fmt: str = "native"):
    sk = get_skill("add", digits=2)
    return [gen.prompt_for(sk, fmt, it) for it in sk.items("eval", n, 0)]


def one_line(e: Exception) -> str:
    msg = str(e)
    assert "\n" not in msg and msg.strip() == msg and msg
    return msg


@pytest.fixture
def sleeps(monkeypatch):
    """The backoff sleeps of the endpoint client, recorded instead of slept."""
    import types

    import dataladder.generate.endpoint as endpoint_mod

    out: list[float] = []
    monkeypatch.setattr(endpoint_mod, "time", types.SimpleNamespace(sleep=out.append))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tiny_dir():
    from dataladder.models.hub import resolve_model

    return resolve_model("tiny-arith")


@pytest.fixture(scope="module")
def tiny_hf():
    from dataladder.models.hub import load_model

    return load_model("tiny-arith")


@pytest.fixture
def one_thread():
    """In-process generation on one torch thread for the test (as the server does): a tiny model is many times
    faster so on a busy machine, and no slower on an idle one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_url(tiny_dir):
    with serve(tiny_dir) as url:
        yield url


# ---------------------------------------------------------------- failures (no model is loaded)

def test_retries_exhausted_is_one_line_naming_url_and_status(tmp_path, sleeps):
    with OpenAIServer(tmp_path, fail_first=5, fail_status=503) as srv:
        e = Endpoint(srv.url, "m", retries=2, backoff=0.01)
        with pytest.raises(ValueError) as ei:
            e.complete_text("1+1=", temperature=0, max_tokens=4)
        msg = one_line(ei.value)
        assert isinstance(ei.value, EndpointError)
        assert f"{srv.url}/completions" in msg and "HTTP 503" in msg
        assert "injected failure 3 of 5" in msg  # the server's own error message, from the last try
        assert len(srv.requests) == 3  # the first try and two retries, no more
        assert sleeps == [0.01, 0.02]  # exponential backoff between tries, none after the last
        assert srv.model is None


def test_client_error_is_not_retried_and_carries_the_server_message(tmp_path, sleeps):
    with OpenAIServer(tmp_path, served_model="m") as srv:
        e = Endpoint(srv.url, "other", retries=3, backoff=0.01)
        with pytest.raises(EndpointError) as ei:
            e.complete([{"role": "user", "content": "hi"}], temperature=0, max_tokens=4)
        msg = one_line(ei.value)
        assert f"{srv.url}/chat/completions" in msg and "HTTP 400" in msg and "model not found" in msg
        assert len(srv.requests) == 1
        assert srv.requests[0][1]["model"] == "other" and sleeps == []


def test_connection_refused_is_one_line_at_once_without_retries(sleeps):
    """Nothing listening is not a server that is slow: no backoff, no retry (timeouts and 5xx are retried)."""
    url = f"http://127.0.0.1:{free_port()}/v1"
    e = Endpoint(url, "m", retries=2, backoff=0.01)
    with pytest.raises(EndpointError) as ei:
        e.complete_text("1+1=", temperature=0, max_tokens=4)
    msg = one_line(ei.value)
    assert f"{url}/completions" in msg and "cannot connect" in msg and "is the server running" in msg
    assert sleeps == []


def test_reply_cut_short_every_time_is_one_line(tmp_path):
    # headers announce the whole body, half of it comes, the connection closes (a server dying mid-reply)
    with OpenAIServer(tmp_path, drop_first=10) as srv:
        srv.handle = lambda path, body, index: (200, {"choices": [{"text": "x" * 200}]})  # no model needed
        e = Endpoint(srv.url, "m", retries=1, backoff=0.01)
        with pytest.raises(EndpointError) as ei:
            e.complete_text("1+1=", temperature=0, max_tokens=4)
        msg = one_line(ei.value)
        assert f"{srv.url}/completions" in msg and "no complete reply" in msg and "after 2 tries" in msg
        assert len(srv.requests) == 2


def test_generator_error_propagates_as_one_line(tmp_path):
    with OpenAIServer(tmp_path, fail_first=1000, fail_status=500) as srv:
        gen = endpoint_gen(srv.url, retries=1, concurrency=2)
        with pytest.raises(EndpointError) as ei:
            gen.greedy(add_prompts(gen, 6))
        msg = one_line(ei.value)
        assert f"{srv.url}/completions" in msg and "HTTP 500" in msg


def test_cli_endpoint_error_exits_2_with_one_line(tmp_path):
    from typer.testing import CliRunner

    from dataladder.cli.main import app

    with OpenAIServer(tmp_path / "none", served_model="m") as srv:
        r = CliRunner().invoke(app, ["probe", "--backend", "endpoint", "--endpoint-url", srv.url, "--endpoint-model",
                                     "other", "--skill", "add", "--n", "5", "--output-dir", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "HTTP 400" in lines[0] and "model not found" in lines[0] and srv.url in lines[0]
    assert not (tmp_path / "out" / "probe.json").exists()


# ---------------------------------------------------------------- the client against a generating server (micro model)

@pytest.mark.integration
def test_retries_with_backoff_then_succeed(micro_dir, sleeps):
    with OpenAIServer(micro_dir, fail_first=2, fail_status=503) as srv:
        e = Endpoint(srv.url, "m", retries=3, backoff=0.01)
        first = e.complete_text("12+7=", temperature=0, max_tokens=6)
        assert len(srv.requests) == 3 and all(b == srv.requests[0][1] for _, b in srv.requests)
        assert sleeps == [0.01, 0.02]
        again = e.complete_text("12+7=", temperature=0, max_tokens=6)
        assert len(srv.requests) == 4  # no failures left: one request
    assert len(first) == 1 and isinstance(first[0], str) and first == again  # the retried answer is the real one


@pytest.mark.integration
def test_reply_cut_short_once_is_retried(micro_dir):
    with OpenAIServer(micro_dir, drop_first=1) as srv:
        e = Endpoint(srv.url, "m", retries=2, backoff=0.01)
        got = e.complete_text("12+7=", temperature=0, max_tokens=6)
        assert len(srv.requests) == 2
        assert got == e.complete_text("12+7=", temperature=0, max_tokens=6)


@pytest.mark.integration
def test_greedy_payload_and_order(tiny_dir):
    with OpenAIServer(tiny_dir) as srv:
        gen = endpoint_gen(srv.url, concurrency=4)
        prompts = add_prompts(gen, 12)
        out = gen.greedy(prompts)
        bodies = {b["prompt"]: b for _, b in srv.requests}
        # each prompt went out once, raw, greedy, with the format's stop string and the skill's token budget
        assert set(bodies) == {p.text for p in prompts} and len(srv.requests) == 12
        assert prompts[0].max_new_tokens == get_skill("add", digits=2).max_new_tokens
        for b in bodies.values():
            assert b["model"] == "m" and b["n"] == 1 and b["temperature"] == 0.0
            assert b["max_tokens"] == prompts[0].max_new_tokens
            assert b["stop"] == ["\n"] and "seed" not in b and "top_p" not in b
        # results come back in prompt order: each equals a lone request for that prompt
        single = Endpoint(srv.url, "m", backoff=0.01)
        assert out == [single.complete_text(p.text, temperature=0, max_tokens=p.max_new_tokens, stop=["\n"])[0]
                       for p in prompts]
        assert len(set(out)) > 1 and not any("\n" in c for c in out)  # tiny-arith's sums differ by prompt

        chat = endpoint_gen(srv.url, api="chat", system_prompt="Be brief.")
        p = add_prompts(chat, 1)[0]
        chat.greedy([p])
        path, body = srv.requests[-1]
        assert path == "/v1/chat/completions"
        assert body["messages"] == [{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": p.messages[-1]["content"]}]
        assert p.messages[-1]["content"].endswith("=")


@pytest.mark.integration
def test_sampling_returns_k_per_prompt_seeded(micro_dir):
    with OpenAIServer(micro_dir) as srv:
        gen = endpoint_gen(srv.url)
        prompts = add_prompts(gen, 5)
        groups = gen.sample(prompts, k=4, temperature=1.0, seed=0)
        assert len(groups) == 5 and all(len(g) == 4 and all(isinstance(c, str) for c in g) for g in groups)
        assert not any("\n" in c for g in groups for c in g)  # cut at the format's stop string
        bodies = [b for _, b in srv.requests]
        assert all(b["n"] == 4 and b["temperature"] == 1.0 and b["top_p"] == 1.0 for b in bodies)
        assert len({b["seed"] for b in bodies}) == 5  # each prompt its own seed
        assert any(len(set(g)) > 1 for g in groups)  # random weights at temperature 1: the samples differ
        assert gen.sample(prompts, k=4, temperature=1.0, seed=0) == groups  # the same seed, the same samples
        assert gen.sample(prompts, k=4, temperature=1.0, seed=1) != groups


@pytest.mark.integration
def test_server_ignoring_n_is_asked_again(micro_dir):
    with OpenAIServer(micro_dir, ignore_n=True) as srv:
        gen = endpoint_gen(srv.url)
        groups = gen.sample(add_prompts(gen, 2), k=3, temperature=1.0, seed=0)
        assert [len(g) for g in groups] == [3, 3]
        assert sorted(b["n"] for _, b in srv.requests) == [1, 1, 2, 2, 3, 3]  # 3 asked, 1 came; 2 asked; 1 asked


@pytest.mark.integration
def test_concurrency_bounds_requests_in_flight(micro_dir):
    with OpenAIServer(micro_dir, delay=0.05) as srv:
        gen = endpoint_gen(srv.url, concurrency=3)
        out = gen.greedy(add_prompts(gen, 20))
        assert len(out) == 20 and len(srv.requests) == 20
        assert 1 < srv.max_in_flight <= 3
    with OpenAIServer(micro_dir, delay=0.01) as srv:
        gen = endpoint_gen(srv.url, concurrency=1)
        assert gen.greedy(add_prompts(gen, 6)) == out[:6]
        assert srv.max_in_flight == 1


# ---------------------------------------------------------------- the endpoint backend vs the in-process hf backend

def by_item(samples):
    return {(s["skill"], s["format"], s["key"]): (s["completion"], s["ok"]) for s in samples}


def accuracies(report):
    return {(sk, f): (x["correct"], x["n"]) for sk, r in report["skills"].items() for f, x in r["formats"].items()}


@pytest.mark.integration
@pytest.mark.parametrize("api,chat_template", [("completions", "auto"), ("chat", "on")])
def test_endpoint_probe_matches_in_process_hf(tiny_url, tiny_hf, one_thread, api, chat_template):
    from dataladder.generate.hf import HFGenerator
    from dataladder.evals.probe import probe
    from dataladder.skills import resolve_skills

    model, tok = tiny_hf
    skills = resolve_skills(["add", "mul"])
    ep_report, ep_samples = probe(endpoint_gen(tiny_url, api=api), skills, n=50)
    hf_report, hf_samples = probe(HFGenerator(model, tok, GenOptions(chat_template=chat_template)), skills, n=50)

    hf_items, ep_items = by_item(hf_samples), by_item(ep_samples)
    assert len(hf_items) == len(hf_samples) == 2 * 2 * 50
    assert ep_items == hf_items  # the same completion and the same verdict, item by item
    assert accuracies(ep_report) == accuracies(hf_report)
    diagnoses = [[r["diagnosis"] for r in rep["skills"].values()] for rep in (ep_report, hf_report)]
    assert diagnoses[0] == diagnoses[1]
    correct = sum(c for c, _ in accuracies(ep_report).values())
    assert correct > 0
    if api == "completions":
        assert ep_report["skills"]["add"]["formats"]["native"]["accuracy"] >= 0.9  # tiny-arith knows its sums
        assert all(s["prompt"] == h["prompt"] for s, h in zip(ep_samples, hf_samples))
    else:  # the same single user turn, templated by the server on one side and in process on the other
        for s, h in zip(ep_samples, hf_samples):
            msgs = json.loads(s["prompt"])
            assert [m["role"] for m in msgs] == ["user"]
            assert h["prompt"] == tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)


@pytest.mark.integration
def test_cli_probe_with_endpoint_matches_in_process(tiny_dir, tiny_hf, one_thread, tmp_path):
    from typer.testing import CliRunner

    from dataladder.cli.main import app
    from dataladder.generate.hf import HFGenerator
    from dataladder.evals.probe import probe
    from dataladder.skills import resolve_skills

    with OpenAIServer(tiny_dir) as srv:
        out = tmp_path / "probe"
        r = CliRunner().invoke(app, ["probe", "--backend", "endpoint", "--endpoint-url", srv.url,
                                     "--endpoint-model", "m", "--endpoint-api", "completions", "--skill", "add",
                                     "--n", "30", "--output-dir", str(out)])
        assert r.exit_code == 0, r.output
        n_requests = len(srv.requests)
    doc = json.loads((out / "probe.json").read_text())
    assert doc["generation"]["backend"] == "endpoint"
    assert doc["generation"]["endpoint_url"] == srv.url and doc["generation"]["endpoint_api"] == "completions"
    assert set(doc["skills"]) == {"add"} and doc["items"] == n_requests == 60  # 30 items x 2 formats, one request each
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]

    model, tok = tiny_hf
    hf_report, hf_samples = probe(HFGenerator(model, tok, GenOptions()), resolve_skills(["add"]), n=30)
    acc = doc["skills"]["add"]["formats"]["native"]["accuracy"]
    assert acc == hf_report["skills"]["add"]["formats"]["native"]["accuracy"] and acc >= 0.9
    assert accuracies(doc) == accuracies(hf_report)
    assert by_item(rows) == by_item(hf_samples)
