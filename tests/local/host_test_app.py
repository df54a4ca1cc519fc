"""A small Function App that exercises the local host (`python -m local.host --app tests.local.host_test_app`).

It stands apart from the real app so the host's routing, keys, timers and queue semantics are tested on their own.
What the timer and queue functions saw is kept in this process and read back through `GET /api/state`.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

_lock = threading.Lock()
_timer_runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
_deliveries: dict[str, list[int]] = defaultdict(list)  # message id -> delivery counts seen, in order
_dead_lettered: dict[str, dict[str, Any]] = {}  # message id -> what the dead-letter trigger saw


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(payload), status_code=status, mimetype="application/json", headers=headers)


@app.route(route="greet/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def greet(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"name": req.route_params["name"], "params": dict(req.params), "url": req.url, "method": req.method})


@app.route(route="echo", methods=["POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    """FUNCTION level (the app's default): needs the key."""
    body = {"json": req.get_json(), "contentType": req.headers.get("content-type")}
    return _json(body, status=201, headers={"X-Echo": "yes"})


@app.route(route="items/{id?}", methods=["GET", "DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
def item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"route": "items/{id?}", "id": req.route_params.get("id"), "method": req.method})


@app.route(route="items/special", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def special_item(req: func.HttpRequest) -> func.HttpResponse:
    """Declared after `items/{id?}`: the literal must still win, as in Azure."""
    return _json({"route": "items/special"})


@app.route(route="orders/{number:int}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def order(req: func.HttpRequest) -> str:
    return f"order {req.route_params['number']}"


@app.route(route="boom", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("boom on purpose")


@app.route(route="admin-only", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"ok": True})


@app.route(route="context", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def with_context(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    """Async, and asking for `context`, as a v2-model function may."""
    return _json({"function": context.function_name, "invocationId": context.invocation_id})


@app.route(route="state", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def state(req: func.HttpRequest) -> func.HttpResponse:
    with _lock:
        return _json(
            {"timers": dict(_timer_runs), "deliveries": dict(_deliveries), "deadLettered": dict(_dead_lettered)}
        )


@app.timer_trigger(schedule="%TEST_SCHEDULE%", arg_name="timer")
def tick(timer: func.TimerRequest) -> None:
    with _lock:
        _timer_runs["tick"].append({"pastDue": timer.past_due, "at": datetime.now(UTC).isoformat()})


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
def yearly(timer: func.TimerRequest, context: func.Context) -> None:
    """Yearly, so every run but the start-up one is an on-demand run through the admin API."""
    with _lock:
        status = getattr(timer, "schedule_status", {})  # the worker's TimerRequest has it; the abstract type does not
        _timer_runs["yearly"].append({"invocationId": context.invocation_id, "next": status.get("Next")})


@app.service_bus_queue_trigger(arg_name="msg", queue_name="%TEST_QUEUE%", connection="ServiceBusConnection")
def work(msg: func.ServiceBusMessage) -> None:
    """Fails the first `failTimes` deliveries of a message whose JSON body asks for it; records every delivery."""
    with _lock:
        _deliveries[msg.message_id].append(msg.delivery_count or 0)
    try:
        body = json.loads(msg.get_body())
    except ValueError:
        body = {}
    fail_times = body.get("failTimes", 0) if isinstance(body, dict) else 0
    if (msg.delivery_count or 0) <= fail_times:
        raise RuntimeError(f"failing delivery {msg.delivery_count} of {msg.message_id} on purpose")


@app.service_bus_queue_trigger(arg_name="msg", queue_name="poison-jobs", connection="ServiceBusConnection")
def poison(msg: func.ServiceBusMessage) -> None:
    with _lock:
        _deliveries[msg.message_id].append(msg.delivery_count or 0)
    raise RuntimeError("this message can never be processed")


@app.service_bus_queue_trigger(arg_name="msg", queue_name="doomed-jobs", connection="ServiceBusConnection")
def doomed(msg: func.ServiceBusMessage) -> None:
    raise RuntimeError("this one is dead-lettered and then read from the dead-letter queue")


@app.service_bus_queue_trigger(
    arg_name="msg", queue_name="doomed-jobs/$deadletterqueue", connection="ServiceBusConnection"
)
def doomed_dead_letters(msg: func.ServiceBusMessage) -> None:
    """Records what a function triggered by a dead-letter subqueue is given."""
    with _lock:
        _dead_lettered[msg.message_id] = {
            "reason": msg.dead_letter_reason,
            "description": msg.dead_letter_error_description,
            "body": msg.get_body().decode("utf-8"),
        }
