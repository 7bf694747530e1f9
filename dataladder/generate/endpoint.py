"""The `endpoint` backend: any OpenAI-compatible server (`vllm serve`, `trl vllm-serve`, SGLang, TGI, a hosted API).

    dataladder probe --backend endpoint --endpoint-url http://127.0.0.1:8000/v1 --endpoint-model my-model --skill tasks.jsonl

`--endpoint-api chat` (default) sends each prompt as messages to `/chat/completions`, so the server
applies the model's chat template (a raw prompt becomes one user turn); `completions` sends raw text
to `/completions` (conversational items are then in the QA frame, `chat.qa_text`). Stop strings go
in `stop`, the token budget in `max_tokens`; servers also cut at the model's end of turn. Requests run
`--concurrency` at a time; a failed one (timeout, dropped connection, HTTP 429 or 5xx) is retried with
exponential backoff up to `retries` times, all tries of a request together within `--endpoint-timeout` seconds
(a server that accepts and never replies is one line once that total has passed, not after every try has timed
out); a refused connection or an unknown host is one line at once, and so is any other failure, naming the URL and
what went wrong. Uses only the standard library (urllib).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from time import monotonic  # not through `time`: tests record the backoff sleeps by replacing it
from typing import Callable

from dataladder.generate.base import BACKENDS, Generator, GenOptions, cut_at_stop
from dataladder.generate.chat import ChatPolicy, Prompt

_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class EndpointError(ValueError):
    """A request that failed for good: one line naming the URL."""


@dataclass
class Endpoint:
    """A minimal OpenAI-compatible client: chat or text completions, `n` per request, retries with backoff."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 120.0  # seconds per try
    retries: int = 3
    backoff: float = 0.5
    total_timeout: float | None = None  # seconds for all tries of one request together (None: no total limit)

    def _post(self, route: str, body: dict) -> dict:
        url = self.base_url.rstrip("/") + route
        key = self.api_key or os.environ.get("OPENAI_API_KEY")
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode()
        deadline = None if self.total_timeout is None else monotonic() + self.total_timeout
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            per_try = self.timeout
            if deadline is not None:
                per_try = min(per_try, deadline - monotonic())
                if per_try <= 0:
                    raise EndpointError(self._overdue(url, attempt))
            try:
                req = urllib.request.Request(url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=per_try) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                if e.code not in _RETRY_STATUS or last:
                    detail = _error_detail(e)
                    raise EndpointError(f"endpoint {url}: HTTP {e.code} {e.reason}{detail}") from None
            except urllib.error.URLError as e:
                if isinstance(e.reason, (ConnectionRefusedError, socket.gaierror)):  # nothing listens, no such host:
                    raise EndpointError(f"endpoint {url}: cannot connect ({e.reason}); is the server running?"
                                        ) from None  # at once (no retry: a timeout or a 5xx is retried)
                if last:
                    raise EndpointError(f"endpoint {url}: cannot connect ({e.reason}) after {attempt + 1} tries; "
                                        "is the server running?") from None
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise EndpointError(f"endpoint {url}: the reply is not JSON") from None
            except (OSError, http.client.HTTPException) as e:  # a read timeout, a dropped connection after
                # connecting, or a reply cut short (IncompleteRead) or garbled (BadStatusLine)
                if deadline is not None and monotonic() >= deadline:
                    raise EndpointError(self._overdue(url, attempt + 1)) from None
                if last:
                    raise EndpointError(f"endpoint {url}: no complete reply ({e or type(e).__name__}) "
                                        f"after {attempt + 1} tries") from None
            pause = self.backoff * 2**attempt
            if deadline is not None and monotonic() + pause >= deadline:
                raise EndpointError(self._overdue(url, attempt + 1))
            time.sleep(pause)
        raise AssertionError("unreachable")

    def _overdue(self, url: str, tries: int) -> str:
        return (f"endpoint {url}: no reply within {self.total_timeout:g} s ({tries} tr{'y' if tries == 1 else 'ies'}; "
                "--endpoint-timeout sets the total); is the server stuck or overloaded?")

    def complete(self, messages: list[dict], n: int = 1, temperature: float = 0.8, max_tokens: int = 64,
                 stop: list[str] | None = None, top_p: float | None = None, seed: int | None = None) -> list[str]:
        """`n` completions of one chat; returns the assistant texts."""
        return self._ask("/chat/completions", {"messages": messages}, n, temperature, max_tokens, stop, top_p, seed)

    def complete_text(self, prompt: str, n: int = 1, temperature: float = 0.8, max_tokens: int = 64,
                      stop: list[str] | None = None, top_p: float | None = None, seed: int | None = None) -> list[str]:
        """`n` completions of a raw text prompt (`/completions`)."""
        return self._ask("/completions", {"prompt": prompt}, n, temperature, max_tokens, stop, top_p, seed)

    def _ask(self, route: str, payload: dict, n: int, temperature: float, max_tokens: int, stop, top_p, seed) -> list[str]:
        body = {"model": self.model, **payload, "n": n, "temperature": temperature, "max_tokens": max_tokens}
        if stop:
            body["stop"] = list(stop)[:4]  # the OpenAI API takes at most four; the rest are cut locally
        if top_p is not None:
            body["top_p"] = top_p
        if seed is not None:
            body["seed"] = seed
        doc = self._post(route, body)
        url = self.base_url.rstrip("/") + route
        try:
            if route == "/chat/completions":
                texts = [c["message"]["content"] or "" for c in doc["choices"]]
            else:
                texts = [c["text"] for c in doc["choices"]]
        except (KeyError, TypeError):
            field = "message.content" if route == "/chat/completions" else "text"
            raise EndpointError(f"endpoint {url}: the reply has no choices[].{field}") from None
        if not texts or not all(isinstance(t, str) for t in texts):
            # an empty list would otherwise be re-requested forever below
            field = "message.content" if route == "/chat/completions" else "text"
            raise EndpointError(f"endpoint {url}: the reply has no choices[].{field} strings")
        if len(texts) < n:  # servers that ignore `n` (llama.cpp) answer once per request
            texts += self._ask(route, payload, n - len(texts), temperature, max_tokens, stop, top_p, seed)
        return texts


def _error_detail(e: urllib.error.HTTPError) -> str:
    try:
        doc = json.loads(e.read().decode("utf-8"))
        msg = doc.get("error", {}).get("message") if isinstance(doc.get("error"), dict) else doc.get("error")
        return f" ({' '.join(str(msg).split())[:200]})" if msg else ""
    except Exception:
        return ""


def check_url(url: str | None, model: str | None) -> None:
    if not url or not model:
        raise ValueError("the endpoint needs --endpoint-url (e.g. http://127.0.0.1:8000/v1) and --endpoint-model")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--endpoint-url {url!r}: expected http://host:port/v1")


def check_reachable(url: str, timeout: float = 2.0) -> None:
    """Before any work: something listens at the URL's host and port. Nothing there (a refused connection) or no
    such host is one line at once; a slow answer is left to the requests (their retries, --endpoint-timeout)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return  # check_url says what is wrong with it
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError(f"--endpoint-url {url!r}: the port is not a number") from None
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except (ConnectionRefusedError, socket.gaierror) as e:
        raise EndpointError(f"endpoint {url}: cannot connect ({e}); is the server running?") from None
    except OSError:  # a timeout, a network that drops the packets: the requests' limits decide
        pass


@BACKENDS.register("endpoint")
class EndpointGenerator(Generator):
    name = "endpoint"

    def __init__(self, options: GenOptions):
        check_url(options.endpoint_url, options.endpoint_model)
        chat = options.endpoint_api == "chat"
        if options.chat_template == "on" and not chat:
            raise ValueError("--chat-template on needs --endpoint-api chat (the server applies the template)")
        # the chat API always templates; the completions API never does
        policy = ChatPolicy("on" if chat else "off", options.system_prompt, chat, tuple(options.stop))
        super().__init__(options, policy)
        self.client = Endpoint(options.endpoint_url, options.endpoint_model, options.api_key, options.timeout,
                               options.retries, total_timeout=options.endpoint_timeout)

    @classmethod
    def create(cls, options: GenOptions, **_) -> "EndpointGenerator":
        return cls(options)

    def render_text(self, p: Prompt) -> str:
        return p.text if p.messages is None else json.dumps(list(p.messages), ensure_ascii=False)

    def count_tokens(self, text: str) -> int:
        return len(text)  # no tokenizer here: characters bound BPE tokens from above

    def _complete(self, prompts: list[Prompt], k: int, sampling: dict | None,
                  on_batch: Callable[[int], None] | None) -> list[list[str]]:
        temperature = 0.0 if sampling is None else sampling["temperature"]
        top_p = None if sampling is None else sampling["top_p"]

        def ask(i: int) -> list[str]:
            p = prompts[i]
            seed = None if sampling is None else sampling["seed"] * 1_000_003 + i
            kw = dict(n=k, temperature=temperature, max_tokens=p.max_new_tokens, stop=list(p.stop) or None,
                      top_p=top_p, seed=seed)
            if self.options.endpoint_api == "chat":
                texts = self.client.complete(p.as_messages(), **kw)
            else:
                texts = self.client.complete_text(p.text, **kw)  # the policy never templates for /completions
            if on_batch:
                on_batch(1)
            return [cut_at_stop(t, p.stop) for t in texts[:k]]

        with ThreadPoolExecutor(self.options.concurrency) as pool:
            return list(pool.map(ask, range(len(prompts))))  # the first error propagates: one line, exit 2
