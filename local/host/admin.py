"""The local host's admin API (`/admin/...`, host key required): run timers and send messages on demand, and look.

Why: tests and `make demo` must not wait for a schedule, and need to see what the queue did (completed, redelivered,
dead-lettered). `POST /admin/functions/{name}` with `{"input": ...}` is Core Tools' own admin call for non-HTTP
functions (202 Accepted); the rest is local only:

- `GET  /admin/host/status`          state, broker connection string, route prefix
- `GET  /admin/functions`            every function with its trigger
- `GET  /admin/functions/{name}`     one function and its recent invocations (id, reason, status, error)
- `POST /admin/functions/{name}`     timer: run now (`?wait=true`: answer when done, 200 or 500);
                                     queue: send `input` as a message (`messageId`, `contentType`, `subject`,
                                     `applicationProperties`, `scheduledEnqueueTime` optional)
- `GET  /admin/queues`               every queue with its counts
- `GET  /admin/queues/{name}`        active, scheduled and dead-lettered messages
- `POST /admin/queues/{name}`        send a message (same body as above)
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from local.fakes.queue import InMemoryJobQueue
from local.host.functions import HostFunction, HttpFunction, QueueFunction, TimerFunction
from local.host.http_server import Request, Response
from local.host.queues import HostQueues, envelope_from_admin, queue_snapshot
from local.host.timers import TimerRunner

ADMIN_REASON = "This function was programmatically called via the host APIs."


def describe(function: HostFunction, timers: Mapping[str, TimerRunner]) -> dict[str, Any]:
    if isinstance(function, HttpFunction):
        methods = sorted(function.methods) if function.methods is not None else None
        return {"name": function.name, "trigger": "httpTrigger", "route": function.route.template,
                "methods": methods, "authLevel": function.auth_level}  # fmt: skip
    if isinstance(function, TimerFunction):
        runner = timers.get(function.name)
        return {"name": function.name, "trigger": "timerTrigger", "schedule": function.schedule.expression,
                "runOnStartup": function.run_on_startup, "last": runner.last if runner else None,
                "next": runner.next_due if runner else None}  # fmt: skip
    return {"name": function.name, "trigger": "serviceBusTrigger", "queueName": function.queue_name,
            "connection": function.connection}  # fmt: skip


class AdminApi:
    def __init__(
        self,
        functions: Sequence[HostFunction],
        timers: Mapping[str, TimerRunner],
        queues: HostQueues,
        status: Callable[[], dict[str, Any]],
    ) -> None:
        self.functions = {function.name.lower(): function for function in functions}
        self.timers, self.queues, self.status = timers, queues, status

    def __call__(self, request: Request, parts: list[str]) -> Response:
        route = [part.lower() for part in parts[:1]] + parts[1:]
        method = request.method
        if route == ["host", "status"] and method == "GET":
            return Response.json(200, self.status())
        if route == ["functions"] and method == "GET":
            return Response.json(200, [describe(f, self.timers) for f in self.functions.values()])
        if route == ["queues"] and method == "GET":
            return Response.json(200, [
                {"name": name, **queue_snapshot(name, queue)["counts"]} for name, queue in self.queues.queues.items()
            ])  # fmt: skip
        if len(route) != 2 or route[0] not in ("functions", "queues"):
            return Response(404)
        try:
            payload = request.json() if method == "POST" else {}
        except ValueError:
            return Response.json(400, {"error": 'the body must be JSON, e.g. {"input": "..."}'})
        if not isinstance(payload, dict):
            return Response.json(400, {"error": 'the body must be a JSON object, e.g. {"input": "..."}'})
        if route[0] == "queues":
            return self._queue(method, route[1], payload)
        function = self.functions.get(route[1].lower())
        if function is None:
            return Response(404)
        if method == "GET":
            return Response.json(200, {**describe(function, self.timers), "invocations": function.invoker.recent()})
        if method != "POST":
            return Response(404)
        if isinstance(function, TimerFunction):
            return self._fire(function, request.query.get("wait", "").lower() == "true")
        if isinstance(function, QueueFunction):
            return self._send(self.queues.get(function.queue_name), payload)
        return Response.json(400, {"error": f"{function.name} is an HTTP function: call its route"})

    def _queue(self, method: str, name: str, payload: dict[str, Any]) -> Response:
        queue = self.queues.queues.get(name)
        if queue is None:
            return Response(404)
        if method == "GET":
            return Response.json(200, queue_snapshot(name, queue))
        return self._send(queue, payload) if method == "POST" else Response(404)

    def _fire(self, function: TimerFunction, wait: bool) -> Response:
        runner = self.timers[function.name]
        invocation_id = str(uuid.uuid4())
        if not wait:
            threading.Thread(
                target=runner.fire, args=(ADMIN_REASON,), kwargs={"invocation_id": invocation_id}, daemon=True
            ).start()
            return Response.json(202, {"id": invocation_id})
        succeeded = runner.fire(ADMIN_REASON, invocation_id=invocation_id)
        record = next((r for r in function.invoker.recent() if r["id"] == invocation_id), {"id": invocation_id})
        return Response.json(200 if succeeded else 500, record)

    @staticmethod
    def _send(queue: InMemoryJobQueue, payload: dict[str, Any]) -> Response:
        try:
            envelope, at = envelope_from_admin(payload, str(uuid.uuid4()))
        except (TypeError, ValueError) as error:
            return Response.json(400, {"error": str(error)})
        number = queue.enqueue(envelope, scheduled_enqueue_time=at)
        return Response.json(
            202, {"messageId": envelope.message_id, "sequenceNumber": number, "duplicate": number is None}
        )
