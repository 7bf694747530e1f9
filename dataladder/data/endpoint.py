"""A client for any OpenAI-compatible chat-completions server (vLLM, llama.cpp, Ollama, ...).

    client = Endpoint("http://127.0.0.1:8000/v1", model="teacher", api_key=None)
    texts = client.complete([{"role": "user", "content": "What is 12*7?"}], n=4, temperature=0.8)

Uses only the standard library (urllib), so a teacher needs no extra dependency. Errors name
the URL and the HTTP status or the malformed field.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass
class Endpoint:
    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 60.0

    def complete(self, messages: list[dict], n: int = 1, temperature: float = 0.8, max_tokens: int = 64,
                 stop: list[str] | None = None) -> list[str]:
        """`n` completions of one chat; returns the assistant texts."""
        url = self.base_url.rstrip("/") + "/chat/completions"
        body = {"model": self.model, "messages": messages, "n": n, "temperature": temperature,
                "max_tokens": max_tokens}
        if stop:
            body["stop"] = stop
        key = self.api_key or os.environ.get("OPENAI_API_KEY")
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                doc = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            raise ValueError(f"endpoint {url}: HTTP {e.code} {e.reason}") from None
        except urllib.error.URLError as e:
            raise ValueError(f"endpoint {url}: cannot connect ({e.reason})") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError(f"endpoint {url}: the reply is not JSON") from None
        except OSError as e:  # a read timeout or a dropped connection after connecting
            raise ValueError(f"endpoint {url}: no complete reply ({e or type(e).__name__})") from None
        try:
            texts = [c["message"]["content"] or "" for c in doc["choices"]]
        except (KeyError, TypeError):
            raise ValueError(f"endpoint {url}: the reply has no choices[].message.content") from None
        if not texts or not all(isinstance(t, str) for t in texts):
            # an empty list would otherwise be re-requested forever below
            raise ValueError(f"endpoint {url}: the reply has no choices[].message.content strings")
        if len(texts) < n:  # servers that ignore `n` (llama.cpp) answer once per request
            texts += self.complete(messages, n - len(texts), temperature, max_tokens, stop)
        return texts
