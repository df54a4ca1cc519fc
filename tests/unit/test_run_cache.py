"""`engine/run_cache.py`: facts read once per full-sync run and process, for a short time, loaded once when two
chunks of a run ask together; nothing shared outside a run."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from shared.engine.run_cache import RunCache, current_run, run_fact, run_scope


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def counting(value: str | None = "fact") -> tuple[list[int], Callable[[], str | None]]:
    calls: list[int] = []

    def load() -> str | None:
        calls.append(1)
        return value

    return calls, load


def test_outside_a_run_every_call_reads() -> None:
    calls, load = counting()
    assert current_run() is None
    run_fact(("outside",), load)
    run_fact(("outside",), load)
    assert len(calls) == 2


def test_a_run_reads_once_and_another_run_reads_again() -> None:
    calls, load = counting()
    with run_scope("fs-unit-1"):
        assert current_run() == "fs-unit-1"
        assert run_fact(("k",), load) == run_fact(("k",), load) == "fact"
    with run_scope("fs-unit-2"):
        run_fact(("k",), load)
    assert current_run() is None
    assert len(calls) == 2


def test_an_entry_lives_its_lifetime_then_is_read_again() -> None:
    clock = Clock()
    cache = RunCache(lifetime=10, clock=clock)
    calls, load = counting()
    cache.get("run", "k", load)
    clock.now = 10
    cache.get("run", "k", load)
    assert len(calls) == 1
    clock.now = 10.5
    cache.get("run", "k", load)
    assert len(calls) == 2


def test_a_failed_load_keeps_nothing() -> None:
    cache = RunCache()
    attempts: list[int] = []

    def load() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("throttled")
        return "fact"

    with contextlib.suppress(RuntimeError):
        cache.get("run", "k", load)
    assert cache.get("run", "k", load) == "fact"
    assert len(attempts) == 2


def test_two_chunks_of_a_run_asking_together_load_once() -> None:
    cache = RunCache()
    calls: list[int] = []
    answers: list[str] = []

    def load() -> str:
        calls.append(1)
        time.sleep(0.05)
        return "fact"

    threads = [threading.Thread(target=lambda: answers.append(cache.get("run", "k", load))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == ["fact"] * 4 and len(calls) == 1


def test_only_the_latest_runs_are_kept() -> None:
    cache = RunCache(max_runs=2)
    calls, load = counting()
    for run in ("a", "b", "c"):
        cache.get(run, "k", load)
    cache.get("c", "k", load)
    cache.get("b", "k", load)
    assert len(calls) == 3
    cache.get("a", "k", load)  # forgotten
    assert len(calls) == 4
