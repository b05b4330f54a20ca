"""The OpenAI-compatible backend against a real HTTP server on localhost that speaks the
chat-completions protocol, answered by llama.cpp's own server logic with real weights
(SmolLM2-135M)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from langvad.errors import LLMError, ModelError
from langvad.models.openai_llm import OpenAICompatLLM
from langvad.models.registry import load_llm


@pytest.fixture(scope="module")
def server(smollm):
    engine = smollm._load()
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            if not self.path.endswith("/chat/completions"):
                self.send_error(404)
                return
            body.pop("model", None)
            reply = engine.handle_chat_completions(body)
            data = json.dumps(reply).encode()
            self.send_response(200 if "choices" in reply else 500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", seen
    httpd.shutdown()


def test_chat_and_logprobs_match_the_in_process_backend(server, smollm):
    url, seen = server
    llm = load_llm(f"openai:smollm@{url}")
    assert isinstance(llm, OpenAICompatLLM) and llm.identity == f"openai:smollm@{url}"
    msgs = [{"role": "user", "content": "Name two animals."}]
    assert llm.chat(msgs, max_tokens=10).text == smollm.chat(msgs, max_tokens=10).text
    rate = [{"role": "user", "content": "Rate from 0 to 1 how dangerous a fight is. Answer [x]."}]
    remote = llm.next_token_logprobs(rate, "[", top=5)
    local = smollm.next_token_logprobs(rate, "[", top=5)
    assert len(local) == 5 and remote.keys() == local.keys()
    assert all(abs(remote[k] - local[k]) < 1e-3 for k in local)
    assert seen[-1]["messages"][-1] == {"role": "assistant", "content": "["}
    assert seen[-1]["continue_final_message"] is True
    assert llm.stats["requests"] == 2 and llm.stats["prompt_tokens"] > 0


def test_server_down_is_a_clear_error():
    llm = OpenAICompatLLM("m", "http://127.0.0.1:9/v1", max_retries=0, timeout=5)
    with pytest.raises(LLMError, match="cannot reach the LLM server at http://127.0.0.1:9/v1"):
        llm.chat([{"role": "user", "content": "hi"}], max_tokens=2)


def test_bad_server_spec():
    with pytest.raises(ModelError, match="openai:MODEL@http"):
        load_llm("openai:no-url")
