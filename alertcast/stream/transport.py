"""A Faust transport whose consumer waits 10 ms, not 1.5 s, for an empty fetch.

Faust hard-codes aiokafka's `fetch_max_wait_ms=1500`, and every worker owns an always-idle
assignor partition: after any pause (a burst, a GC), aiokafka fetches that idle partition
alone, the broker holds the fetch 1.5 s, and the backlog it leaves re-triggers the stall, for
good (see shared/FACTS.md). No Faust setting reaches it, hence this subclass.

The same subclass shortens aiokafka's prefetch backoff (100 ms): while any partition of a broker
holds fetched records Faust has not taken (the table's changelog partitions do, after every
write), aiokafka sends no fetch to that broker for up to that long, which measured as ~100 ms
added to every hop of the pipeline.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as driver

FETCH_MAX_WAIT_MS = 10
PREFETCH_BACKOFF_S = 0.005


class ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    async def on_start(self) -> None:
        await super().on_start()
        fetcher = getattr(self._consumer, "_fetcher", None)
        if fetcher is not None:
            fetcher._prefetch_backoff = PREFETCH_BACKOFF_S


class Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    Consumer = Consumer
