"""The cluster tier: three real brokers (replication 3, min.insync.replicas 2) and two or more
real workers, with brokers and workers killed, restarted and frozen mid-burst.

What "exactly once" means here is counted where it matters, at the receiving end: the webhook
receiver accepts each Idempotency-Key once (as the webhook adapter documents receivers do) and
also counts raw requests, so repeats on the wire are reported; the website channel's folder
holds each alert once, with its one version. Every tenth incident of a burst is in the website
account's area and the others are not: the website channel rebuilds the whole site after each
publish, so 1,000 alerts on it would make a burst quadratic (minutes), not a test of Kafka.
"""

from __future__ import annotations

import json
import re
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cluster_support import (
    Burst,
    Cluster,
    CountingReceiver,
    Load,
    busiest_window,
    kill,
    p99,
    site_from_topic,
    start_worker,
    submit_burst,
    three_brokers,
    website_versions,
    where_lost,
    worker_env,
)
from conftest import Worker, wait_for
from kafka_io import read_until_found

from alertcast import topics

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

BURST = 1000
DRAIN_S = 300.0  # a 1,000-incident burst on a shared 2-core machine, with a rebalance in it


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with three_brokers(tmp_path_factory.mktemp("cluster")) as running:
        yield running


@dataclass
class Setup:
    cluster: Cluster
    prefix: str
    folder: Path
    receiver: CountingReceiver = field(default_factory=CountingReceiver)
    workers: list[Worker] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)  # settings of this test's workers

    @property
    def site(self) -> Path:
        return self.folder / "site"

    @property
    def app_id(self) -> str:
        return f"alertcast-{self.prefix.rstrip('.')}"

    def start(self) -> Worker:
        env = {**worker_env(self.cluster, self.prefix, self.site, self.receiver), **self.overrides}
        worker = start_worker(env, self.folder, f"worker{len(self.workers)}")
        self.workers.append(worker)
        return worker

    def ready(self, worker: Worker) -> None:
        """Faust logs Ready once its tables are recovered and its partitions assigned."""
        wait_for(lambda: "[^Worker]: Ready" in worker.log.read_text(errors="replace"), 180, self.logs)

    def stop(self, worker: Worker) -> None:
        worker.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- {w.log.name}: problems ---\n{w.log_problems()}\n--- {w.log.name}: tail ---\n{w.log_tail()}"
            for w in self.workers
        )

    def close(self) -> None:
        """Every worker asked to stop at once (they leave the group together), then waited for."""
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            worker.stop()
        self.receiver.close()
        print(self.logs())

    def wait_delivered(self, burst: Burst, bursts: tuple[Burst, ...] = ()) -> None:
        every = [burst, *bursts]
        webhook = sum(len(b.alert_ids) for b in every)
        website = [alert_id for b in every for alert_id in b.website_ids]

        def progress() -> str:
            on_site = website_versions(self.site, website)
            accepted = {key.split(":")[0] for key in self.receiver.accepted}
            missing = [a for b in every for a in b.alert_ids if a not in accepted]
            missing += [a for a in website if a not in on_site]
            lost = where_lost(self.cluster.bootstrap, self.prefix, self.app_id, missing)
            return (
                f"{self.receiver.count()}/{webhook} webhook, {len(on_site)}/{len(website)} website\n"
                f"{lost}\n{self.logs()}"
            )

        wait_for(
            lambda: (
                self.receiver.count() >= webhook and len(website_versions(self.site, website)) == len(website)
            ),
            DRAIN_S,
            progress,
        )

    def assert_exactly_once(self, *bursts: Burst) -> None:
        expected = set().union(*(b.webhook_keys() for b in bursts))
        accepted = set(self.receiver.accepted)
        repeats = self.receiver.repeats()
        some = sorted(repeats.items())[:5]
        note = f"{len(repeats)} key(s) sent more than once, repeats dropped by the receiver: {some}"
        print(note)
        assert accepted == expected, (
            f"lost {len(expected - accepted)}, unexpected {len(accepted - expected)}; {note}"
        )
        website = [alert_id for b in bursts for alert_id in b.website_ids]
        versions = website_versions(self.site, website)
        assert versions == {alert_id: [1] for alert_id in website}
        on_site = {path.stem for path in (self.site / "data").glob("*.json")}
        assert on_site == set(website), "the site holds alerts no burst routed there"


@pytest.fixture
def setup(cluster: Cluster, tmp_path: Path) -> Iterator[Setup]:
    """A full, healed cluster to start from; fresh topics, app id and receiver; two workers."""
    cluster.start_missing()
    wait_for(lambda: not cluster.not_healed(), 180, lambda: "\n".join(cluster.not_healed()[:10]))
    made = Setup(cluster, f"c{uuid.uuid4().hex[:10]}.", tmp_path)
    report = topics.apply(cluster.bootstrap, made.prefix)
    assert report.replication == 3, report.lines()
    try:
        for worker in (made.start(), made.start()):
            made.ready(worker)
        yield made
    finally:
        made.close()


def test_topics_are_replicated_three_times_with_two_in_sync_required(setup: Setup) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    names = [setup.prefix + spec.name for spec in topics.load_specs()]
    tables = ("incident_versions", "delivery_ledger", "approval_state")
    internal = [f"{setup.app_id}-{table}-changelog" for table in tables]
    internal.append(f"{setup.app_id}-__assignor-__leader")
    described = setup.cluster.describe(names + internal)
    assert {len(p["replica_nodes"]) for t in described for p in t["partitions"]} == {3}
    admin = KafkaAdminClient(bootstrap_servers=setup.cluster.bootstrap)
    try:
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in names + internal]
        )
    finally:
        admin.close()
    assert {c["min.insync.replicas"]["value"] for c in configs["topic"].values()} == {"2"}


def test_a_broker_killed_during_a_burst_loses_nothing_and_repeats_nothing(setup: Setup) -> None:
    burst = submit_burst(setup.cluster.bootstrap, setup.prefix, setup.prefix, BURST)
    wait_for(lambda: setup.receiver.count() >= BURST // 5, DRAIN_S, setup.logs)
    pipeline_topics = [setup.prefix + name for name in ("incidents.submitted", "deliveries.requests")]
    victim = setup.cluster.leader_of_most(pipeline_topics)
    setup.cluster.kill(victim)
    assert setup.receiver.count() < BURST, "the burst was over before the broker died: not a test"
    setup.wait_delivered(burst)  # with the broker still down: two in sync are enough
    setup.assert_exactly_once(burst)


def test_a_broker_brought_back_heals_the_cluster_and_the_backlog_drains(setup: Setup) -> None:
    victim = setup.cluster.leader_of_most([setup.prefix + "incidents.submitted"])
    setup.cluster.kill(victim)
    burst = submit_burst(setup.cluster.bootstrap, setup.prefix, setup.prefix, BURST)
    wait_for(lambda: setup.receiver.count() >= BURST // 5, DRAIN_S, setup.logs)
    wait_for(setup.cluster.not_healed, 60, "the controller to fence the killed broker")
    setup.cluster.start_missing()
    wait_for(lambda: not setup.cluster.not_healed(), 180, lambda: "\n".join(setup.cluster.not_healed()[:10]))
    setup.wait_delivered(burst)
    setup.assert_exactly_once(burst)
    assert not setup.cluster.not_healed()


def site_writer(workers: list[Worker]) -> Worker:
    """The worker that took the site last (a rebalance may have moved it since the first)."""
    taken = [
        (line[:25], worker)
        for worker in workers
        for line in worker.log.read_text(errors="replace").splitlines()
        if "site: built from" in line
    ]
    assert taken, "no worker built the site"
    return max(taken, key=lambda found: found[0])[1]


LISTS = ("index.html", "feed.atom", "cap.xml", "alerts.json")  # they show when they were made


@pytest.mark.timeout(900)
def test_the_site_has_one_writer_however_many_workers_and_one_killed(setup: Setup, tmp_path: Path) -> None:
    """Three workers share one site folder (as pods share a volume); 300 alerts go to the
    website and the worker writing the site is SIGKILLed mid-burst. The folder equals, file for
    file, the site one writer builds from the same stream: each alert page once, with its one
    version; only the lists' own time of making may differ."""
    setup.ready(setup.start())
    burst = submit_burst(setup.cluster.bootstrap, setup.prefix, setup.prefix + "s", 300, website_every=1)
    wait_for(lambda: len(website_versions(setup.site, burst.website_ids)) >= 30, DRAIN_S, setup.logs)
    kill(site_writer(setup.workers))
    assert len(website_versions(setup.site, burst.website_ids)) < 300, "over before the kill: not a test"
    setup.wait_delivered(burst)
    setup.assert_exactly_once(burst)
    now = datetime.now(UTC)
    alerts = site_from_topic(setup.cluster.bootstrap, setup.prefix, tmp_path / "one-writer", now)
    assert sorted(a.alert_id for a in alerts) == sorted(burst.website_ids)
    assert [len(a.versions) for a in alerts] == [1] * 300
    shared = {p.relative_to(setup.site): p for p in setup.site.rglob("*") if p.is_file()}
    alone = {
        p.relative_to(tmp_path / "one-writer"): p for p in (tmp_path / "one-writer").rglob("*") if p.is_file()
    }
    assert sorted(map(str, shared)) == sorted(map(str, alone))
    differ = [
        str(name)
        for name in shared
        if str(name) not in LISTS and shared[name].read_bytes() != alone[name].read_bytes()
    ]
    assert differ == []
    for name in LISTS:
        linked = set(re.findall(r"alerts/([0-9a-f]+)\.html", shared[Path(name)].read_text()))
        assert linked == set(re.findall(r"alerts/([0-9a-f]+)\.html", alone[Path(name)].read_text())), name


@pytest.mark.timeout(900)
def test_a_worker_killed_and_a_rolling_restart_lose_nothing_and_repeat_nothing(setup: Setup) -> None:
    """A worker SIGKILLed mid-burst, a third started, a second burst, then every worker stopped
    (SIGTERM, a clean leave as in a deployment) and replaced one by one: 1,500 incidents, each
    once at the receivers. Each rebalance here once lost a message or two (see
    alertcast/stream/transport.py and alertcast/stream/app.py for how, and what holds now)."""
    first = submit_burst(setup.cluster.bootstrap, setup.prefix, setup.prefix + "a", BURST)
    wait_for(lambda: setup.receiver.count() >= BURST // 5, DRAIN_S, setup.logs)
    kill(setup.workers[0])
    assert setup.receiver.count() < BURST, "the burst was over before the worker died: not a test"
    setup.ready(setup.start())
    # A second burst, so the rolling restart happens with work in flight whatever the first left.
    second = submit_burst(setup.cluster.bootstrap, setup.prefix, setup.prefix + "b", BURST // 2)
    for old in [w for w in setup.workers if w.process is not None and w.process.poll() is None]:
        setup.stop(old)
        setup.ready(setup.start())
    setup.wait_delivered(first, (second,))
    setup.assert_exactly_once(first, second)


def test_a_worker_frozen_for_300_ms_recovers(setup: Setup) -> None:
    """Only "it recovers at all": latency back within a generous bound, and every incident
    submitted before the pause delivered. Faust's 1.5 s fetch wait once made such a pause a
    stall for good (shared/FACTS.md); speed is bench/pipeline.py --freeze's business."""
    rate = 20.0
    load = Load(setup.cluster.bootstrap, setup.prefix, setup.prefix, rate).start()
    try:

        def steady() -> list[float]:
            now = time.time()
            window = load.window(now - 3, now - 1)
            return window if len(window) >= 0.8 * 2 * rate else []

        before = p99(wait_for(steady, 120, lambda: f"steady receipts; {len(load.samples)} so far"))
        bound = max(3 * before, 1000.0)
        frozen = setup.workers[0].process
        assert frozen is not None
        frozen.send_signal(signal.SIGSTOP)
        try:
            time.sleep(0.3)  # the freeze itself, not a wait for something
        finally:
            frozen.send_signal(signal.SIGCONT)
        continued = time.time()

        def recovered() -> bool:
            """The start of a one-second window after SIGCONT with every incident sent before
            it delivered, enough receipts, and p99 within the bound."""
            start = continued
            while start + 1 <= time.time() - 0.5:
                window = load.window(start, start + 1)
                if len(window) >= 0.5 * rate and p99(window) <= bound and not load.missing_before(start):
                    return True
                start += 0.1
            return False

        wait_for(
            recovered,
            120,
            lambda: (
                f"p99 under {bound:.0f} ms after the freeze (before: {before:.0f} ms); "
                f"last second: {sorted(load.window(time.time() - 2, time.time() - 1))[-3:]}\n{setup.logs()}"
            ),
        )
        assert frozen.poll() is None, "the frozen worker died"
    finally:
        load.stop()


# --- one account, three workers: its rate and its breaker are one worker's (issue #17) ---------

RATE = {"posts": 2, "per_s": 1.0}  # the webhook account's: 2 posts a second, a burst of 2
RATED_ALERTS = 40
COOLDOWN_S = 3.0


def start_three(setup: Setup) -> None:
    for worker in (setup.start(), setup.start(), setup.start()):
        setup.ready(worker)
    wait_for(
        lambda: setup.cluster.group_is(setup.app_id, 3), 60, lambda: str(setup.cluster.group(setup.app_id))
    )


@pytest.fixture
def one_account(cluster: Cluster, tmp_path: Path) -> Iterator[Setup]:
    """Fresh topics and one webhook account ("hook"), rated and with a quick breaker; the
    test starts three workers (the second and third take partitions from the first)."""
    cluster.start_missing()
    wait_for(lambda: not cluster.not_healed(), 180, lambda: "\n".join(cluster.not_healed()[:10]))
    made = Setup(cluster, f"c{uuid.uuid4().hex[:10]}.", tmp_path)
    made.overrides = {
        "ALERTCAST_CHANNELS": json.dumps(["webhook"]),
        "ALERTCAST_ROUTES": "[]",
        "ALERTCAST_CHANNEL_RATES": json.dumps({"webhook": RATE}),
        "ALERTCAST_BREAKER_FAILURES": "1",
        "ALERTCAST_BREAKER_COOLDOWN_S": str(COOLDOWN_S),
        "ALERTCAST_ACCOUNT_CHECK_INTERVAL_S": "0",
    }
    topics.apply(cluster.bootstrap, made.prefix)
    try:
        yield made
    finally:
        made.close()


def test_an_account_s_post_rate_holds_with_three_workers(one_account: Setup) -> None:
    """40 alerts for one account of 2 posts/s: before requests were keyed by account, each of
    the three workers paced its share at 2/s (about 6/s at the receiver)."""
    setup = one_account
    start_three(setup)
    burst = submit_burst(setup.cluster.bootstrap, setup.prefix, setup.prefix, RATED_ALERTS)
    wait_for(
        lambda: setup.receiver.count() >= RATED_ALERTS,
        180,
        lambda: f"{setup.receiver.count()}/{RATED_ALERTS} posts\n{setup.logs()}",
    )
    assert set(setup.receiver.accepted) == burst.webhook_keys()  # the 40 all arrive, once each
    times = setup.receiver.times()
    bucket = RATE["posts"]  # the burst a full bucket allows at once
    busiest = busiest_window(times, 1.0)
    assert len(busiest) <= RATE["posts"] + bucket, (
        f"{len(busiest)} posts within one second: {[round(t - times[0], 2) for t in busiest]}"
    )
    # Over the whole run too: after the first full bucket, 2 a second (so at least 19 s here).
    span = times[-1] - times[0]
    least = (len(times) - bucket) / (RATE["posts"] / RATE["per_s"])
    assert span >= least - 0.5, f"{len(times)} posts in {span:.1f} s, faster than the account's rate"


def test_a_network_down_is_probed_by_one_breaker_not_one_per_worker(one_account: Setup) -> None:
    """The receiver answers 503 to everything; with a breaker opening at the first failure and
    a 3 s cool-down, it sees the first deliveries' calls, then one probe per cool-down (one
    breaker), not three interleaved series of probes (one per worker)."""
    setup = one_account
    setup.receiver.down.set()
    start_three(setup)
    alerts = 12
    burst = submit_burst(setup.cluster.bootstrap, setup.prefix, setup.prefix, alerts)
    dead = read_until_found(
        setup.cluster.bootstrap,
        setup.prefix + "deliveries.dead",
        lambda got: {d["delivery_key"] for d in got} >= burst.webhook_keys(),
        timeout=240,
        what=setup.logs,
    )
    assert {d["delivery_key"] for d in dead} == burst.webhook_keys()  # each ended visibly, dead
    assert setup.receiver.count() == 0
    times = setup.receiver.times()
    first = times[0]
    # The first calls: those already on their way when the first 503 opened the circuit.
    probes = [t for t in times if t >= first + COOLDOWN_S / 2]
    shown = [round(t - first, 2) for t in times]
    assert len(probes) >= 2, f"not enough probes to tell one breaker from three: {shown}"
    gaps = [later - earlier for earlier, later in zip([first, *probes], probes, strict=False)]
    assert min(gaps) >= 0.6 * COOLDOWN_S, f"calls closer than a cool-down (several breakers): {shown}"
