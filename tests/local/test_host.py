"""The local Functions host (`python -m local.host`) against a small test app (tests/local/host_test_app.py).

The host runs as a child process, exactly as `make serve` runs it; what its timer and queue functions saw is read
back through the test app's `GET /api/state`, and the queues through the host's admin API.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from local.fakes.queue import InMemoryJobQueue
from local.stack.processes import REPO_ROOT, ChildProcess, free_port, start_python_module
from shared.domain.jobs import JobKind, JobMessage

pytestmark = pytest.mark.integration

KEY = "test-host-key"
APP = "tests.local.host_test_app"
VALUES = {"LOCAL_FUNCTION_KEY": KEY, "TEST_SCHEDULE": "*/1 * * * * *", "TEST_QUEUE": "jobs-under-test"}
# Empty values let the settings file decide, whatever the developer's shell exports (Core Tools' rule).
CLEAN_ENV = {name: "" for name in [*VALUES, "ServiceBusConnection", "ServiceBusConnection__fullyQualifiedNamespace"]}


def write_settings(folder: Path, values: dict[str, str]) -> Path:
    path = folder / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}), encoding="utf-8")
    return path


def eventually(probe: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll until `probe` returns something truthy (returned), or fail with its last value."""
    deadline, value = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not reached within {timeout}s; last value {value!r}")


@dataclass
class Host:
    base: str
    child: ChildProcess
    session: requests.Session

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, timeout=10, **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"x-functions-key": KEY}
        return self.session.request(method, f"{self.base}/admin/{path}", headers=headers, timeout=10, **kwargs)

    def state(self) -> dict[str, Any]:
        body: dict[str, Any] = self.get("/api/state").json()
        return body

    def deliveries(self, message_id: str) -> list[int]:
        return list(self.state()["deliveries"].get(message_id, []))


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    settings = write_settings(tmp_path_factory.mktemp("host"), VALUES)
    port = free_port()
    args = ["--app", APP, "--settings", str(settings), "--broker-port", str(free_port())]
    child = start_python_module("local-host", "local.host", port=port, args=args, env=CLEAN_ENV, quiet=False)
    session = requests.Session()
    session.trust_env = False
    try:
        yield Host(f"http://127.0.0.1:{port}", child, session)
    finally:
        child.stop()


# -- HTTP routing -------------------------------------------------------------------------------------------------
def test_anonymous_route_gets_route_and_query_params(host: Host) -> None:
    response = host.get("/api/greet/Ada%20L?lang=en&x=1&x=2")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["name"] == "Ada L" and body["params"] == {"lang": "en", "x": "1,2"} and body["method"] == "GET"
    assert body["url"].endswith("/api/greet/Ada%20L?lang=en&x=1&x=2")


def test_routes_match_case_insensitively_like_azure(host: Host) -> None:
    assert host.get("/API/Greet/ada").json()["name"] == "ada"


def test_literal_segments_win_over_parameters_and_optional_parameters_may_be_absent(host: Host) -> None:
    assert host.get("/api/items/special").json() == {"route": "items/special"}
    assert host.get("/api/items/7").json() == {"route": "items/{id?}", "id": "7", "method": "GET"}
    assert host.get("/api/items").json()["id"] is None
    assert host.session.delete(f"{host.base}/api/items/7", timeout=10).json()["method"] == "DELETE"


def test_route_constraints_take_part_in_matching(host: Host) -> None:
    response = host.get("/api/orders/12")
    assert (response.status_code, response.text) == (200, "order 12")
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert host.get("/api/orders/twelve").status_code == 404


def test_unknown_routes_and_other_methods_are_404_as_in_azure(host: Host) -> None:
    assert host.get("/api/nothing-here").status_code == 404
    assert host.get("/greet/ada").status_code == 404  # outside the route prefix
    # A known route with a method it does not allow: Azure answers 404, not 405 (azure-functions-host#10098).
    assert host.get("/api/echo", headers={"x-functions-key": KEY}).status_code == 404


def test_function_level_routes_need_the_key_in_the_header_or_code(host: Host) -> None:
    url = f"{host.base}/api/echo"
    for attempt in ({}, {"headers": {"x-functions-key": "wrong"}}, {"params": {"code": "wrong"}}):
        response = host.session.post(url, json={"a": 1}, timeout=10, **attempt)  # type: ignore[arg-type]
        assert (response.status_code, response.content) == (401, b"")
    by_header = host.session.post(url, json={"a": 1}, headers={"x-functions-key": KEY}, timeout=10)
    assert by_header.status_code == 201 and by_header.headers["X-Echo"] == "yes"
    assert by_header.json() == {"json": {"a": 1}, "contentType": "application/json"}
    by_code = host.session.post(url, json=[1, 2], params={"code": KEY}, timeout=10)
    assert by_code.status_code == 201 and by_code.json()["json"] == [1, 2]


def test_admin_level_routes_need_the_key_too(host: Host) -> None:
    assert host.get("/api/admin-only").status_code == 401
    assert host.get("/api/admin-only", params={"code": KEY}).json() == {"ok": True}


def test_an_exception_is_a_500_with_the_traceback_and_the_host_keeps_serving(host: Host) -> None:
    response = host.get("/api/boom")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["function"] == "boom" and error["message"] == "RuntimeError: boom on purpose"
    assert any("host_test_app.py" in line for line in error["traceback"])
    assert host.get("/api/greet/still-up").status_code == 200
    assert host.child.process.poll() is None


def test_async_functions_get_a_context(host: Host) -> None:
    body = host.get("/api/context").json()
    assert body["function"] == "with_context" and len(body["invocationId"]) == 36


def test_connections_are_kept_alive(host: Host) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", int(host.base.rsplit(":", 1)[1]), timeout=10)
    try:
        connection.request("GET", "/api/greet/one")
        first = connection.getresponse()
        first.read()
        socket_used = connection.sock
        connection.request("GET", "/api/greet/two")
        second = connection.getresponse()
        assert json.loads(second.read())["name"] == "two" and connection.sock is socket_used
    finally:
        connection.close()


# -- admin API ----------------------------------------------------------------------------------------------------
def test_the_admin_api_needs_the_key_and_describes_the_host(host: Host) -> None:
    assert host.get("/admin/host/status").status_code == 401
    status = host.admin("GET", "host/status").json()
    assert status["state"] == "Running" and status["queues"] == [*DOOMED, "jobs-under-test", "poison-jobs"]
    assert "UseDevelopmentEmulator=true" in status["serviceBusConnection"]
    functions = {f["name"]: f for f in host.admin("GET", "functions").json()}
    assert functions["echo"] == {"name": "echo", "trigger": "httpTrigger", "route": "echo", "methods": ["POST"],
                                 "authLevel": "function"}  # fmt: skip
    assert functions["tick"]["schedule"] == "*/1 * * * * *"  # resolved from %TEST_SCHEDULE%
    assert functions["work"]["queueName"] == "jobs-under-test"  # resolved from %TEST_QUEUE%
    assert host.admin("POST", "functions/echo", json={}).status_code == 400
    assert host.admin("POST", "functions/nope", json={}).status_code == 404


# -- timers -------------------------------------------------------------------------------------------------------
def test_a_timer_fires_on_its_ncrontab_schedule(host: Host) -> None:
    runs = eventually(lambda: (r := host.state()["timers"].get("tick", [])) and len(r) >= 2 and r)
    assert not any(run["pastDue"] for run in runs)
    stamps = [datetime.fromisoformat(run["at"]) for run in runs[-2:]]
    assert timedelta(seconds=0.5) < stamps[1] - stamps[0] < timedelta(seconds=1.5)
    assert all(stamp.microsecond < 500_000 for stamp in stamps)  # on the second, as `*/1 * * * * *` says


def test_run_on_startup_and_on_demand_runs(host: Host) -> None:
    eventually(lambda: host.state()["timers"].get("yearly"))  # the start-up run
    response = host.admin("POST", "functions/yearly", params={"wait": "true"}, json={})
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    runs = host.state()["timers"]["yearly"]
    assert runs[-1]["invocationId"] == response.json()["id"]
    assert runs[-1]["next"].startswith(f"{datetime.now(UTC).year + 1}-01-01T00:00:00")
    accepted = host.admin("POST", "functions/yearly", json={"input": ""})
    assert accepted.status_code == 202
    eventually(lambda: any(r["invocationId"] == accepted.json()["id"] for r in host.state()["timers"]["yearly"]))
    invocations = host.admin("GET", "functions/yearly").json()["invocations"]
    assert {i["reason"] for i in invocations} >= {"Timer fired at startup (run_on_startup)."}


DOOMED = ["doomed-jobs", "doomed-jobs/$deadletterqueue"]  # a queue and its dead-letter subqueue, both triggers


# -- queues -------------------------------------------------------------------------------------------------------
def queue(host: Host, name: str) -> dict[str, Any]:
    body: dict[str, Any] = host.admin("GET", f"queues/{name}").json()
    return body


def ids(messages: list[dict[str, Any]]) -> set[str]:
    return {message["messageId"] for message in messages}


def test_a_message_handled_first_time_is_completed(host: Host) -> None:
    sent = host.admin("POST", "functions/work", json={"input": {"failTimes": 0}, "messageId": "ok-1"})
    assert sent.status_code == 202 and sent.json()["duplicate"] is False
    assert eventually(lambda: host.deliveries("ok-1")) == [1]
    eventually(lambda: "ok-1" not in ids(queue(host, "jobs-under-test")["active"]))
    assert "ok-1" not in ids(queue(host, "jobs-under-test")["deadLettered"])


def test_a_failure_is_redelivered_with_a_growing_delivery_count(host: Host) -> None:
    host.admin("POST", "functions/work", json={"input": {"failTimes": 2}, "messageId": "retry-2"})
    assert eventually(lambda: (d := host.deliveries("retry-2")) and len(d) == 3 and d) == [1, 2, 3]
    eventually(lambda: "retry-2" not in ids(queue(host, "jobs-under-test")["active"]))
    assert host.admin("POST", "queues/jobs-under-test", json={"messageId": "retry-2"}).json()["duplicate"] is True


def test_a_message_failing_ten_times_is_dead_lettered(host: Host) -> None:
    host.admin("POST", "functions/poison", json={"input": "junk", "messageId": "poison-1"})
    dead = eventually(lambda: [m for m in queue(host, "poison-jobs")["deadLettered"] if m["messageId"] == "poison-1"])
    assert dead[0]["deliveryCount"] == 10 and dead[0]["deadLetterReason"] == "MaxDeliveryCountExceeded"
    assert dead[0]["body"] == "junk"
    assert host.deliveries("poison-1") == list(range(1, 11))
    assert queue(host, "poison-jobs")["counts"]["active"] == 0


def test_a_function_on_the_dead_letter_subqueue_gets_what_was_given_up_with_the_reason(host: Host) -> None:
    host.admin("POST", "functions/doomed", json={"input": "doomed body", "messageId": "doomed-1"})
    seen = eventually(lambda: host.state()["deadLettered"].get("doomed-1"), timeout=30)
    assert seen["reason"] == "MaxDeliveryCountExceeded" and "10 delivery attempts" in seen["description"]
    assert seen["body"] == "doomed body"
    eventually(lambda: queue(host, "doomed-jobs")["counts"]["deadLettered"] == 0)  # completed on the subqueue


def test_a_scheduled_message_waits_for_its_time(host: Host) -> None:
    at = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    body = {"input": {}, "messageId": "later-1", "scheduledEnqueueTime": at}
    assert host.admin("POST", "queues/jobs-under-test", json=body).status_code == 202
    assert "later-1" in ids(queue(host, "jobs-under-test")["scheduled"])
    assert host.deliveries("later-1") == []
    assert eventually(lambda: host.deliveries("later-1")) == [1]
    assert host.admin("GET", "queues/no-such-queue").status_code == 404


def test_the_real_service_bus_sender_reaches_the_function_through_the_broker(host: Host) -> None:
    from shared.connectors.service_bus.queue import ServiceBusJobQueue

    connection = host.admin("GET", "host/status").json()["serviceBusConnection"]
    sender = ServiceBusJobQueue("jobs-under-test", connection_string=connection, client_options={"retry_total": 0})
    try:
        sender.send([JobMessage(JobKind.MAPPING_RUN, "amqp/now", {"mapping": "CUSTOMER"})])
        assert eventually(lambda: host.deliveries("amqp/now")) == [1]
        sender.send([JobMessage(JobKind.MAPPING_RUN, "amqp/later")], delay=timedelta(seconds=1))
        assert "amqp/later" in ids(queue(host, "jobs-under-test")["scheduled"])
        assert eventually(lambda: host.deliveries("amqp/later")) == [1]
    finally:
        sender.close()


# -- start-up and shutdown ----------------------------------------------------------------------------------------
def test_settings_environment_wins_and_sigterm_stops_cleanly(tmp_path: Path) -> None:
    """A second host, without the broker: an environment value beats the file (Core Tools' rule), and SIGTERM
    ends it with exit code 0."""
    settings = write_settings(tmp_path, VALUES)
    port = free_port()
    env = {**CLEAN_ENV, "TEST_QUEUE": "from-environment"}
    args = ["--app", APP, "--settings", str(settings), "--no-broker"]
    child = start_python_module("local-host-2", "local.host", port=port, args=args, env=env)
    try:
        status = requests.get(f"http://127.0.0.1:{port}/admin/host/status", params={"code": KEY}, timeout=10).json()
        assert status["queues"] == [*DOOMED, "from-environment", "poison-jobs"]
        assert status["serviceBusConnection"] is None
    finally:
        started = time.monotonic()
        child.stop()
    assert child.process.returncode == 0 and time.monotonic() - started < 3


def test_an_unresolved_setting_stops_start_up_with_the_reason(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, {k: v for k, v in VALUES.items() if k != "TEST_SCHEDULE"})
    command = [sys.executable, "-m", "local.host", "--app", APP, "--settings", str(settings), "--no-broker",
               "--port", str(free_port())]  # fmt: skip
    env = {**os.environ, **CLEAN_ENV, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert "'%TEST_SCHEDULE%' does not resolve to a value" in result.stderr


def test_in_process_senders_reach_the_host_through_host_queues(tmp_path: Path) -> None:
    """`HostQueues.for_name` is the running host's queue: a `JobQueue` in the same process delivers to it."""
    from local.host.functions_host import HostOptions, HostQueues, LocalHost
    from tests.local import host_test_app

    saved = dict(os.environ)
    os.environ.update(CLEAN_ENV)
    options = HostOptions(app=APP, port=free_port(), settings=write_settings(tmp_path, VALUES), broker_port=None)
    host = LocalHost(options)
    try:
        host.start()
        HostQueues.for_name("jobs-under-test").send([JobMessage(JobKind.MAPPING_RUN, "in-process/1")])
        assert eventually(lambda: host_test_app._deliveries.get("in-process/1")) == [1]
        with pytest.raises(LookupError):
            HostQueues.for_name("unknown-queue")
    finally:
        host.stop()
        os.environ.clear()
        os.environ.update(saved)
    with pytest.raises(LookupError):
        HostQueues.for_name("jobs-under-test")


# -- lock renewal (in-process, with short locks) ------------------------------------------------------------------
def run_slow_function(lock: float, renewal: float, slow_first: float) -> tuple[list[int], InMemoryJobQueue]:
    """Deliver one message to a function that takes `slow_first` seconds on its first delivery."""
    from local.host.functions import Invoker, QueueFunction
    from local.host.queues import QueueRunner
    from local.host.settings import HostConfig

    seen: list[int] = []

    def handler(msg: Any) -> None:
        seen.append(msg.delivery_count)
        if msg.delivery_count == 1:
            time.sleep(slow_first)

    queue = InMemoryJobQueue(lock_duration=timedelta(seconds=lock))
    function = QueueFunction("slow", "slow-jobs", "ServiceBusConnection", Invoker("slow", handler, "msg", False, "."))
    config = HostConfig(max_concurrent_calls=2, max_lock_renewal=timedelta(seconds=renewal))
    stopping = threading.Event()
    runner = QueueRunner(function, queue, config, stopping)
    runner.start()
    try:
        queue.send([JobMessage(JobKind.MAPPING_RUN, "slow/1")])
        time.sleep(slow_first + 0.3)
        eventually(lambda: not queue.active_messages())
    finally:
        stopping.set()
        runner.join(time.monotonic() + 2)
    return seen, queue


def test_a_long_run_keeps_its_lock() -> None:
    """The host renews the lock of a running message (Azure: up to maxAutoLockRenewalDuration): no redelivery."""
    seen, queue = run_slow_function(lock=0.4, renewal=60, slow_first=1.0)
    assert seen == [1] and queue.dead_letters() == []


def test_lock_renewal_stops_at_max_auto_lock_renewal_duration() -> None:
    """Past maxAutoLockRenewalDuration the lock expires and the message is delivered again while the first run
    is still going, as in Azure; the first run's completion then finds its lock lost."""
    seen, _ = run_slow_function(lock=0.4, renewal=0.25, slow_first=1.0)
    assert seen == [1, 2]


# -- route templates and settings (pure) --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("couplings/{mapping}/{bcId}", "/couplings/CUSTOMER/C%2F10", {"mapping": "CUSTOMER", "bcId": "C/10"}),
        ("files/{*rest}", "/files/a/b/c", {"rest": "a/b/c"}),
        ("files/{*rest}", "/files", {}),
        ("page/{number:int=1}", "/page", {"number": "1"}),
        ("page/{number:int=1}", "/page/x", None),
        ("ids/{id:guid}", "/ids/6f1c2a70-9d5e-4a43-b1f0-3b2f1e0c9a11", {"id": "6f1c2a70-9d5e-4a43-b1f0-3b2f1e0c9a11"}),
        ("ids/{id:guid}", "/ids/42", None),
        ("codes/{code:alpha:length(2,3)}", "/codes/usd", {"code": "usd"}),
        ("codes/{code:alpha:length(2,3)}", "/codes/euro", None),
        ("health", "/health/extra", None),
    ],
)
def test_route_templates(template: str, path: str, expected: dict[str, str] | None) -> None:
    from local.host.routes import RouteTemplate, split_path

    assert RouteTemplate.parse(template).match(split_path(path)) == expected


def test_route_precedence_prefers_literals_then_constraints_then_parameters() -> None:
    from local.host.routes import RouteTemplate

    templates = ["couplings/{m}/{id}", "couplings/{m}/{id?}", "couplings/{m}/match", "couplings/{m}/{id:int}"]
    ordered = sorted(templates, key=lambda t: RouteTemplate.parse(t).precedence)
    assert ordered == ["couplings/{m}/match", "couplings/{m}/{id:int}", "couplings/{m}/{id}", "couplings/{m}/{id?}"]


@pytest.mark.parametrize("template", ["a/{x:nope}", "file.{ext}", "{*rest}/tail", "{a?}/b"])
def test_route_templates_the_host_cannot_honour_are_refused(template: str) -> None:
    from local.host.routes import RouteTemplate
    from local.host.settings import HostConfigurationError

    with pytest.raises(HostConfigurationError):
        RouteTemplate.parse(template)


def test_local_settings_follow_core_tools(tmp_path: Path) -> None:
    from local.host.settings import HostConfigurationError, export_values, load_local_settings, resolve

    (tmp_path / "local.settings.json.example").write_text(
        json.dumps({"Values": {"A": "file", "B": "file", "N": 3, "T": True}, "Host": {"LocalHttpPort": 7999}})
    )
    said: list[str] = []
    settings = load_local_settings(None, tmp_path, said.append)  # no local.settings.json: the example is used
    assert settings.http_port == 7999 and "using local.settings.json.example" in said[0]
    environ = {"A": "shell", "B": ""}
    export_values(settings.values, environ, said.append)
    assert environ == {"A": "shell", "B": "file", "N": "3", "T": "true"}
    assert said[-1] == "Skipping 'A' from local settings as it's already defined in current environment variables."
    assert resolve("%A%-%N%", "x", environ.get) == "shell-3"
    with pytest.raises(HostConfigurationError, match="'%MISSING%' does not resolve"):
        resolve("%MISSING%", "function 'f'", environ.get)
    with pytest.raises(HostConfigurationError, match="not found"):
        load_local_settings(tmp_path / "nope.json", tmp_path)
