"""The alert feed's fan-out: alerts published from the projection's thread reach every
connected console, in order; a reader that falls too far behind is told to reload."""

from __future__ import annotations

import asyncio
import threading

from services.console.stream import MAX_QUEUED, RESYNC, Broadcaster


def test_alerts_published_from_another_thread_reach_every_subscriber_in_order():
    feed = Broadcaster()

    async def scenario() -> tuple[list, list]:
        first, second = feed.subscribe(), feed.subscribe()
        worker = threading.Thread(target=feed.publish,
                                  args=([{"alert_id": "a"}, {"alert_id": "b"}],))
        worker.start()
        worker.join()
        got = []
        for subscriber in (first, second):
            got.append([(await subscriber.queue.get())["alert_id"] for _ in range(2)])
        feed.unsubscribe(first)
        return got, [len(feed)]

    got, remaining = asyncio.run(scenario())
    assert got == [["a", "b"], ["a", "b"]] and remaining == [1]


def test_a_reader_too_far_behind_gets_one_resync_instead_of_unbounded_memory():
    feed = Broadcaster()

    async def scenario() -> list:
        subscriber = feed.subscribe()
        feed.publish([{"alert_id": str(n)} for n in range(MAX_QUEUED + 50)])
        await asyncio.sleep(0)  # one turn of the loop runs every handed-over callback
        items = [subscriber.queue.get_nowait() for _ in range(subscriber.queue.qsize())]
        return items

    items = asyncio.run(scenario())
    assert len(items) == MAX_QUEUED + 1 and items[-1] is RESYNC
    assert [i["alert_id"] for i in items[:3]] == ["0", "1", "2"]
