"""`verify serve` (uvicorn + Starlette) on a real socket on 127.0.0.1: OpenRLHF's /get_reward
contract, health, 4xx/413 as JSON, queueing instead of refusing, graceful stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from verifier.rewards.server import OnMissing, ServeConfig, serving
from verifier.schema import MathProblem


def post(url: str, body: bytes | dict, *, path: str = "/get_reward") -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get(url: str, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url + path, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


PROMPT = "<|user|>Tom has 3 apples and buys 5 more. How many?<|assistant|>"
REQUEST = {
    "query": [PROMPT + "3 + 5 = 8\n#### 8", PROMPT + "#### 9", PROMPT + "I am not sure"],
    "prompts": [PROMPT, PROMPT, PROMPT],
    "labels": ["8", "8", "8"],
}


@pytest.fixture(scope="module")
def server():
    with serving() as srv:
        yield srv


@pytest.fixture(scope="module")
def bank_server():
    """`verify serve --bank`: string labels are ids in the bank."""
    bank = {"demo-1": MathProblem(id="demo-1", kind="math", question="q", answer="42")}
    with serving(config=ServeConfig(bank=bank)) as srv:
        yield srv


def test_get_reward(server):
    status, body = post(server.url, REQUEST)
    assert status == 200
    assert body["rewards"] == [1.0, 0.0, 0.0]
    assert body["scores"] == body["rewards"]
    assert body["missing"] == []
    assert body["extra_logs"] == {
        "correct": [1.0, 0.0, 0.0],
        "missing": [0.0, 0.0, 0.0],
        "whole_query": [0.0, 0.0, 0.0],
    }
    assert body["statuses"] == ["correct", "wrong", "no_answer"]


def test_labels_as_bank_ids_and_problem_records(bank_server):
    problem = {"id": "p", "kind": "math", "question": "q", "answer": "1/2"}
    labels = ["demo-1", problem, json.dumps(problem), {"answer": "7"}, 7]
    queries = ["#### 42", "\\boxed{0.5}", "\\boxed{0.5}", "#### 7", "#### 7"]
    status, body = post(bank_server.url, {"query": queries, "prompts": [""] * 5, "labels": labels})
    assert (status, body["rewards"]) == (200, [1.0] * 5)


def test_an_unknown_bank_id_is_a_422_naming_it(bank_server):
    # A typo'd id used to be read as a gold answer and scored 0.0, silently.
    status, body = post(bank_server.url, {"query": ["#### 42", "#### 42"], "labels": ["demo-1", "demo-01"]})
    assert status == 422
    assert "unknown problem id 'demo-01'" in body["error"] and "did you mean 'demo-1'" in body["error"]
    assert post(bank_server.url, {"query": ["#### 42"], "labels": ["demo-1"]})[1]["rewards"] == [1.0]


def test_health(server):
    status, body = get(server.url, "/health")
    assert status == 200 and body["status"] == "ok"
    assert {"in_flight", "waiting", "answered", "max_concurrent", "items", "missing"} <= set(body)


@pytest.mark.parametrize(
    "body,status,words",
    [
        (b"{not json", 400, "json"),
        ({"prompts": ["a"], "labels": ["1"]}, 400, "query"),
        ({"query": "one string", "labels": ["1"]}, 400, "query"),
        ({"query": ["a", "b"], "labels": ["1"]}, 422, "one label per query"),
        ({"query": ["a"], "prompts": ["a", "b"], "labels": ["1"]}, 422, "prompts"),
        ({"query": ["#### 1"], "labels": [None]}, 422, "reference"),
        ({"query": ["#### 1"], "labels": [{"kind": "code", "id": "c"}]}, 422, "not a valid problem"),
    ],
)
def test_bad_requests_get_4xx(server, body, status, words):
    got, answer = post(server.url, body)
    assert got == status
    assert words.lower() in answer["error"].lower()
    assert get(server.url, "/health")[0] == 200  # and the server is still up


def test_a_query_without_its_prompt_is_scored_whole_and_flagged(server):
    # A refusal would be retried by OpenRLHF and then stop the training run: it gets numbers.
    status, body = post(server.url, {"query": ["xyz #### 1"], "prompts": ["abc"], "labels": ["1"]})
    assert (status, body["rewards"], body["extra_logs"]["whole_query"]) == (200, [1.0], [1.0])


def test_wrong_paths_and_methods(server):
    assert post(server.url, REQUEST, path="/nope")[0] == 404
    assert get(server.url, "/get_reward")[0] == 405
    assert get(server.url, "/nope")[0] == 404


def test_a_request_that_gets_no_slot_in_time_still_gets_numbers(monkeypatch):
    """Regression: a busy server answered 503, and OpenRLHF gives up after 5 tries (then crashes)."""
    import threading

    from verifier.rewards import server as server_module

    real = server_module.score_queries
    release = threading.Event()

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(server_module, "score_queries", slow)
    with serving(config=ServeConfig(max_concurrent=1, deadline_s=0.5)) as srv, ThreadPoolExecutor(1) as ex:
        first = ex.submit(post, srv.url, REQUEST)  # holds the only slot
        while srv.health()["in_flight"] == 0:
            time.sleep(0.01)
        status, body = post(srv.url, REQUEST)
        assert status == 200 and body["rewards"] == [0.0, 0.0, 0.0] and body["missing"] == [0, 1, 2]
        assert body["extra_logs"]["missing"] == [1.0, 1.0, 1.0]
        release.set()
        assert first.result()[1]["rewards"] == [1.0, 0.0, 0.0]


def test_end_tokens_kept_by_openrlhf_do_not_zero_a_correct_answer(server):
    """OpenRLHF decodes prompt + response with skip_special_tokens=False."""
    prompt = (
        "<|im_start|>user\nTom has 3 apples and buys 5 more. How many?<|im_end|>\n<|im_start|>assistant\n"
    )
    query = "<|endoftext|><|endoftext|>" + prompt + "3 + 5 = 8\n#### 8<|im_end|>"  # left padding too
    status, body = post(server.url, {"query": [query], "prompts": [prompt], "labels": ["8"]})
    assert (status, body["rewards"], body["statuses"]) == (200, [1.0], ["correct"])


def test_a_body_over_the_limit_is_a_413_as_json():
    with serving(config=ServeConfig(max_body_bytes=1000)) as srv:
        status, body = post(srv.url, {"query": ["x" * 2000], "labels": ["1"]})
        assert status == 413 and "body over 1000 bytes" in body["error"]
        # Chunked (no Content-Length: counted as it streams), sent in one write so that the server's
        # early answer cannot race the rest of the body.
        chunks = [b'{"query": ["', b"x" * 2000 + b'"], "labels": ["1"]}']
        body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        head = (
            b"POST /get_reward HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", srv.port), timeout=60) as conn:
            conn.sendall(head + body)
            raw = b""
            while chunk := conn.recv(65536):
                raw += chunk
        status_line, _, rest = raw.partition(b"\r\n")
        assert b" 413 " in status_line, raw
        assert "body over" in json.loads(rest.partition(b"\r\n\r\n")[2])["error"]
        assert post(srv.url, REQUEST)[1]["rewards"] == [1.0, 0.0, 0.0]


def test_concurrent_clients_get_the_sequential_answers(server):
    queries = [f"{PROMPT}#### {n}" for n in range(64)]
    request = {"query": queries, "prompts": [PROMPT] * 64, "labels": [str(n % 7) for n in range(64)]}
    expected = post(server.url, request)[1]["rewards"]
    with ThreadPoolExecutor(max_workers=8) as ex:
        answers = list(ex.map(lambda _: post(server.url, request), range(16)))
    assert all(status == 200 and body["rewards"] == expected for status, body in answers)


@pytest.mark.parametrize("policy,expected", [(OnMissing.ZERO, 0.0), (OnMissing.NULL, None)])
def test_missing_rewards_on_the_wire(monkeypatch, policy, expected):
    from verifier.rewards import server as server_module
    from verifier.rewards.result import Missing, RewardResult

    undecided = RewardResult(None, "sandbox_error", "engine down", "code", missing=Missing.INFRA)
    monkeypatch.setattr(server_module, "score_queries", lambda *a, **k: [undecided])
    with serving(config=ServeConfig(on_missing=policy)) as srv:
        status, body = post(srv.url, {"query": ["x"], "labels": ["1"]})
    assert status == 200 and body["rewards"] == [expected] and body["missing"] == [0]


def test_missing_rewards_with_retry_policy_are_503(monkeypatch):
    from verifier.rewards import server as server_module
    from verifier.rewards.result import Missing, RewardResult

    undecided = RewardResult(None, "deadline", "late", "math", missing=Missing.DEADLINE)
    monkeypatch.setattr(server_module, "score_queries", lambda *a, **k: [undecided])
    with serving(config=ServeConfig(on_missing=OnMissing.RETRY)) as srv:
        status, body = post(srv.url, {"query": ["x"], "labels": ["1"]})
    assert status == 503 and body["missing"] == [0]


def test_verify_serve_command(tmp_path):
    """The real command: starts, answers, stops on SIGINT after finishing a request in flight."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "verifier.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)),
            *("--end-token", "<|my_end|>"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if get(url, "/health")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        status, body = post(url, REQUEST)
        assert (status, body["rewards"]) == (200, [1.0, 0.0, 0.0])
        # The tokenizer's own end token, given with --end-token: the answer before it counts.
        status, body = post(url, {"query": ["#### 8<|my_end|><|my_end|>"], "labels": ["8"]})
        assert (status, body["rewards"]) == (200, [1.0])
        sympy = {"query": [r"\boxed{\sqrt{8}}"] * 4, "labels": [r"2\sqrt{2}"] * 4}
        with ThreadPoolExecutor(1) as ex:
            in_flight = ex.submit(post, url, sympy)  # may need a math worker to start: seconds
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
            assert in_flight.result() == (200, {**in_flight.result()[1], "rewards": [1.0] * 4})
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "/get_reward" in out
    assert "answered within 150 s" in out  # 60 s deadline + at most 90 s of math workers' start-up


def test_every_answer_comes_before_openrlhfs_timeout():
    """A request's deadline does not run while math workers start, but that pause is bounded so a
    request is answered 30 s before the client gives up (OpenRLHF: 180 s, then retries and crashes)."""
    config = ServeConfig()
    assert config.worst_case_s == 150.0 and config.max_startup_pause_s == 90.0
    assert ServeConfig(deadline_s=10.0, client_timeout_s=60.0).worst_case_s == 30.0
    with pytest.raises(ValueError, match="client's timeout"):
        ServeConfig(deadline_s=160.0)


@pytest.mark.parametrize(
    "args,words",
    [
        (("--deadline", "160"), "--deadline: 160 s leaves no time before the client's timeout"),
        (("--end-token", " "), "--end-token: must not be empty"),
    ],
)
def test_serve_options_are_checked_before_listening(args, words):
    done = subprocess.run(
        [sys.executable, "-m", "verifier.cli.main", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr, done


def test_a_port_in_use_is_a_clear_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "verifier.cli.main", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2 and "cannot listen on" in done.stderr, done
