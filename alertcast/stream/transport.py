"""A Faust transport whose consumer waits 10 ms, not 1.5 s, for an empty fetch.

Faust hard-codes aiokafka's `fetch_max_wait_ms=1500`, and every worker owns an always-idle
assignor partition: after any pause (a burst, a GC), aiokafka fetches that idle partition
alone, the broker holds the fetch 1.5 s, and the backlog it leaves re-triggers the stall, for
good (see shared/FACTS.md). No Faust setting reaches it, hence this subclass.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as driver

FETCH_MAX_WAIT_MS = 10


class ConsumerThread(driver.AIOKafkaConsumerThread):  # type: ignore[misc]
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class Consumer(driver.Consumer):  # type: ignore[misc]
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):  # type: ignore[misc]
    Consumer = Consumer
