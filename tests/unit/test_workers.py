import threading
import time

from services.common import workers
from services.common.workers import Worker


def wait_until(check, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_failing_round_is_retried_and_the_worker_lives_on():
    rounds = []

    def step():
        rounds.append(1)
        if len(rounds) <= 2:
            raise RuntimeError("database went away")
        return False

    stop = threading.Event()
    worker = Worker("flaky", step, stop, 0.01)
    worker.start()
    wait_until(lambda: len(rounds) >= 4)
    assert worker.thread.is_alive()
    assert worker.failures == 0
    assert worker.last_error == "RuntimeError: database went away"
    stop.set()


def test_health_turns_failing_while_a_worker_keeps_failing():
    stop = threading.Event()

    def broken():
        raise OSError("kafka unreachable")

    worker = Worker("broken", broken, stop, 0.001)
    worker.start()
    wait_until(lambda: worker.failures >= workers.UNHEALTHY_AFTER)
    healthy, states = workers.health()
    assert not healthy
    assert any(s["name"] == "broken" and not s["healthy"] for s in states)
    stop.set()
    assert all(s["name"] != "broken" for s in workers.health()[1])
