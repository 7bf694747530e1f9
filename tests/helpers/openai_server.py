"""A small OpenAI-compatible server for tests: a Hugging Face causal LM from a local directory, served with
plain transformers and the standard library (no dataladder.generate code: an independent reference).

    with serve(model_dir) as url:                        # url == "http://127.0.0.1:PORT/v1"
        ...
    with OpenAIServer(model_dir, fail_first=2, fail_status=503) as srv:
        srv.url, srv.requests, srv.max_in_flight

Routes: `POST /v1/chat/completions` (the tokenizer's chat template with add_generation_prompt=True, then
tokenized without adding special tokens again) and `POST /v1/completions` (the raw prompt, tokenized with the
tokenizer's default special tokens). Request fields: `n`, `max_tokens`, `temperature` (0: greedy; > 0:
sampling), `top_p`, `stop` (a string or a list), `seed`. Decoding is a plain token-by-token loop over one
unpadded prompt (KV cache, `n` rows); a row ends at the tokenizer's EOS or any id of
`generation_config.eos_token_id`, once its text holds a stop string (the text is cut before the earliest
one), or after `max_tokens`; texts are decoded with skip_special_tokens=True. Model calls are serialized,
and the model is loaded by the first request that needs it (a server that only fails loads nothing).

Failure modes: `fail_first=k, fail_status=503` answers the first k requests with that status and an
OpenAI-style error body; `served_model="name"` answers a request naming another model with HTTP 400
`{"error": {"message": "model not found"}}`; `drop_first=k` cuts the first k replies short (headers announce
the whole body, half of it is sent, the connection closes); `ignore_n=True` answers one choice whatever `n`
(as llama.cpp does); `delay` sleeps that many seconds in each request before the model (outside the lock).
`num_threads` (default 1; None: torch's default) is torch's intra-op thread count while the server's
handler thread runs the model, restored after each request: on a busy machine a tiny model's forward
pass is many times faster on one thread than on contended ones.
The server records every request (`requests`: (path, body)) and the most requests it saw in flight at once
(`max_in_flight`; a request stops counting just before its reply is written, so a client with c requests
in flight is never seen with more than c).
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


class OpenAIServer:
    def __init__(self, model_dir, *, fail_first: int = 0, fail_status: int = 503, served_model: str | None = None,
                 drop_first: int = 0, ignore_n: bool = False, delay: float = 0.0, num_threads: int | None = 1):
        self.model_dir = str(model_dir)
        self.tok = self.model = None  # loaded by the first request that needs them
        self.eos_ids: set[int] = set()
        self.fail_first, self.fail_status, self.served_model = fail_first, fail_status, served_model
        self.drop_first, self.ignore_n, self.delay = drop_first, ignore_n, delay
        self.num_threads = num_threads
        self.requests: list[tuple[str, dict | None]] = []
        self.in_flight = self.max_in_flight = 0
        self._count_lock, self._model_lock = threading.Lock(), threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # lifecycle
    def start(self) -> str:
        handler = type("Handler", (_Handler,), {"owner": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="openai-test-server", daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        return self.url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=10)
            self._httpd = self._thread = None

    def __enter__(self) -> "OpenAIServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # request handling
    def _arrive(self, path: str, body: dict | None) -> int:
        with self._count_lock:
            self.requests.append((path, body))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return len(self.requests) - 1

    def _leave(self) -> None:
        with self._count_lock:
            self.in_flight -= 1

    def handle(self, path: str, body: dict | None, index: int) -> tuple[int, dict]:
        if index < self.fail_first:
            return self.fail_status, _error(f"injected failure {index + 1} of {self.fail_first}", "server_error")
        if path not in ("/v1/chat/completions", "/v1/completions"):
            return 404, _error(f"no route {path}", "not_found")
        if not isinstance(body, dict):
            return 400, _error("the body is not a JSON object", "invalid_request_error")
        if self.served_model is not None and body.get("model") != self.served_model:
            return 400, {"error": {"message": "model not found"}}
        chat = path == "/v1/chat/completions"
        if chat and not isinstance(body.get("messages"), list):
            return 400, _error("'messages' is required", "invalid_request_error")
        if not chat and not isinstance(body.get("prompt"), str):
            return 400, _error("'prompt' must be a string", "invalid_request_error")
        if self.delay:
            time.sleep(self.delay)
        n = 1 if self.ignore_n else int(body.get("n") or 1)
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        with self._model_lock, _threads(self.num_threads):
            self._load()
            if chat:
                text = self.tok.apply_chat_template(body["messages"], add_generation_prompt=True, tokenize=False)
                ids = self.tok(text, add_special_tokens=False)["input_ids"]
            else:
                ids = self.tok(body["prompt"])["input_ids"]
            outs = self.generate(list(ids), n, int(body.get("max_tokens") or 16), float(body.get("temperature", 1.0)),
                                 float(body.get("top_p", 1.0)), body.get("seed"), stop)
        choices = []
        for i, (text, reason) in enumerate(outs):
            c = {"index": i, "finish_reason": reason}
            c.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
            choices.append(c)
        return 200, {"id": f"cmpl-{index}", "object": "chat.completion" if chat else "text_completion",
                     "created": int(time.time()), "model": body.get("model"), "choices": choices}

    def _load(self) -> None:
        if self.model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(self.model_dir)
        model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=torch.float32)
        model.eval()
        eos = getattr(model.generation_config, "eos_token_id", None)
        ids = {self.tok.eos_token_id} if self.tok.eos_token_id is not None else set()
        self.eos_ids = ids | ({eos} if isinstance(eos, int) else set(eos or ()))
        self.model = model

    def generate(self, ids: list[int], n: int, max_tokens: int, temperature: float, top_p: float, seed,
                 stop: list[str]):
        """`n` (text, finish_reason) continuations of one prompt."""
        import torch

        rng = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        new: list[list[int]] = [[] for _ in range(n)]
        texts, reasons = [""] * n, [None] * n
        inp, past = torch.tensor([ids] * n), None
        with torch.inference_mode():
            for _ in range(max_tokens):
                out = self.model(input_ids=inp, past_key_values=past, use_cache=True)
                past, logits = out.past_key_values, out.logits[:, -1, :].float()
                if temperature == 0:
                    nxt = logits.argmax(-1)
                else:
                    probs = torch.softmax(logits / temperature, -1)
                    if top_p < 1.0:
                        sp, si = probs.sort(-1, descending=True)
                        sp[(sp.cumsum(-1) - sp) >= top_p] = 0.0  # keep the smallest head reaching top_p
                        probs = torch.zeros_like(probs).scatter(-1, si, sp)
                    nxt = torch.multinomial(probs, 1, generator=rng)[:, 0]
                for r, t in enumerate(nxt.tolist()):
                    if reasons[r] is not None:
                        continue
                    if t in self.eos_ids:
                        reasons[r] = "stop"
                        continue
                    new[r].append(t)
                    texts[r] = self.tok.decode(new[r], skip_special_tokens=True)
                    cut = min((i for i in (texts[r].find(s) for s in stop) if i != -1), default=-1)
                    if cut != -1:
                        texts[r], reasons[r] = texts[r][:cut], "stop"
                if all(x is not None for x in reasons):
                    break
                inp = nxt[:, None]
        return [(t, r or "length") for t, r in zip(texts, reasons)]


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIServer

    def do_POST(self):
        srv = self.owner
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            body = None
        index = srv._arrive(self.path, body)
        try:
            status, doc = srv.handle(self.path, body, index)
        except Exception as e:  # a bug in the server: say so, as a server would
            status, doc = 500, _error(f"{type(e).__name__}: {e}", "server_error")
        finally:
            srv._leave()  # before the reply: the client cannot have sent its next request yet
        data = json.dumps(doc).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if index < srv.drop_first:
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # quiet
        pass


@contextmanager
def _threads(n: int | None):
    """torch's intra-op thread count set to `n` in this thread for the block (OpenMP's setting is per thread;
    torch's default for threads started later is restored on the way out)."""
    if not n:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _error(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


@contextmanager
def serve(model_dir, **opts) -> Iterator[str]:
    """Serve `model_dir` for the duration of the block; yields the base URL `http://127.0.0.1:PORT/v1`."""
    with OpenAIServer(model_dir, **opts) as srv:
        yield srv.url
