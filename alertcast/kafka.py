"""A real local Apache Kafka (KRaft) for the demo, the tests and the benchmarks.

The broker jars come from Maven Central through `deploy/kafka/pom.xml` into a cache outside the
clone, so a second run is warm; the broker runs with Java on 127.0.0.1 only. Nothing here is
a fake: the tests talk to the same broker an operator would start by hand.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template

from alertcast.errors import ServiceError
from alertcast.maven import MavenError, copy_dependencies
from alertcast.processes import port_open, running_pid, stop
from alertcast.settings import ROOT

KAFKA_VERSION = "4.4.0"
DEPLOY = ROOT / "deploy" / "kafka"
BROKER_JAR = f"kafka_2.13-{KAFKA_VERSION}.jar"


class KafkaError(ServiceError, RuntimeError):
    """Something the operator must fix: the message says what and how."""


def libs_dir(cache_dir: Path) -> Path:
    return cache_dir / f"kafka-{KAFKA_VERSION}" / "libs"


def install(cache_dir: Path, say: Callable[[str], None] = print) -> Path:
    """Fetch the broker's runtime jars with Maven, once; later calls find them in the cache."""
    try:
        return copy_dependencies(
            DEPLOY / "pom.xml", libs_dir(cache_dir), BROKER_JAR, f"Apache Kafka {KAFKA_VERSION}", say
        )
    except MavenError as error:
        raise KafkaError(str(error)) from None


@dataclass(frozen=True)
class Node:
    """One KRaft node (broker and controller in one process) and where it keeps its things."""

    node_id: int
    port: int
    controller_port: int
    data_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        """The PID of this node's running broker, or None (a stale pid file is ignored)."""
        return running_pid(self.pid_file)


def nodes_for(data_dir: Path, port: int, brokers: int = 1) -> list[Node]:
    """Nodes 1..n: broker ports port, port+1...; controller ports port+100, port+101..."""
    if brokers == 1:
        return [Node(1, port, port + 100, data_dir)]
    return [Node(i, port + i - 1, port + 100 + i - 1, data_dir / f"node{i}") for i in range(1, brokers + 1)]


def bootstrap_of(nodes: list[Node]) -> str:
    return ",".join(node.bootstrap for node in nodes)


def up(
    data_dir: Path,
    cache_dir: Path,
    port: int = 9092,
    brokers: int = 1,
    heap_mb: int = 512,
    timeout_s: float = 90.0,
    say: Callable[[str], None] = print,
) -> list[Node]:
    """Start the node(s) unless running, format storage on first start, wait until they answer."""
    libs = install(cache_dir, say)
    if shutil.which("java") is None:
        raise KafkaError("Java is not installed: apt-get install openjdk-17-jre-headless, then retry")
    nodes = nodes_for(data_dir.resolve(), port, brokers)
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes)
    replication = min(3, brokers)
    cluster_id = _cluster_id(nodes[0].data_dir.parent if brokers > 1 else nodes[0].data_dir)
    started = []
    for node in nodes:
        if node.pid() is not None:
            say(f"broker {node.node_id} already running (pid {node.pid()}) on {node.bootstrap}")
            continue
        for busy in (node.port, node.controller_port):
            if port_open(busy):
                raise KafkaError(
                    f"port {busy} on 127.0.0.1 is taken by another process: "
                    "stop it, or choose another with --port"
                )
        node.data_dir.mkdir(parents=True, exist_ok=True)
        config = node.data_dir / "server.properties"
        template = Template((DEPLOY / "server.properties.template").read_text())
        config.write_text(
            template.substitute(
                node_id=node.node_id,
                voters=voters,
                port=node.port,
                controller_port=node.controller_port,
                log_dirs=node.data_dir / "data",
                replication=replication,
                min_isr=max(1, replication - 1),
            )
        )
        java = ["java", f"-Xmx{heap_mb}m", f"-Xms{min(heap_mb, 256)}m", "-cp", f"{libs}/*"]
        java += [
            f"-Dlog4j2.configurationFile={DEPLOY / 'log4j2.properties'}",
            f"-Dkafka.logs.file={node.log_file}",
        ]
        if not (node.data_dir / "data" / "meta.properties").exists():
            say(f"formatting storage of broker {node.node_id} in {node.data_dir / 'data'}")
            formatted = subprocess.run(
                [*java, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)],
                capture_output=True,
                text=True,
                check=False,
            )
            if formatted.returncode != 0:
                raise KafkaError(f"formatting storage failed:\n{formatted.stdout}\n{formatted.stderr}")
        with open(node.data_dir / "stdout.log", "ab") as out:
            process = subprocess.Popen(
                [*java, "kafka.Kafka", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        node.pid_file.write_text(str(process.pid))
        started.append(node)
    for node in started:
        _wait_ready(node, timeout_s)
        say(f"broker {node.node_id} ready on {node.bootstrap} (pid {node.pid()}, log {node.log_file})")
    return nodes


def down(data_dir: Path, port: int = 9092, brokers: int = 1, timeout_s: float = 60.0) -> list[int]:
    """Stop every node started from data_dir by its PID, and wait until each has exited."""
    stopped = []
    for node in nodes_for(data_dir.resolve(), port, brokers):
        pid = node.pid()
        if pid is None:
            continue
        stop(pid, timeout_s)
        node.pid_file.unlink(missing_ok=True)
        stopped.append(pid)
    return stopped


def running(data_dir: Path, port: int = 9092, brokers: int = 1) -> list[tuple[Node, int | None]]:
    return [(node, node.pid()) for node in nodes_for(data_dir.resolve(), port, brokers)]


def _cluster_id(folder: Path) -> str:
    """One cluster id per data folder, kept so a restart reuses formatted storage."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cluster.id"
    while not path.exists():
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):  # the storage tool would read it as an option
            path.write_text(cluster_id)
    return path.read_text().strip()


def _wait_ready(node: Node, timeout_s: float) -> None:
    """Ready = answers a metadata request; a broker that died says why from its log."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError as ClientError

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if node.pid() is None:
            raise KafkaError(f"broker {node.node_id} exited during start; end of its log:\n{_tail(node)}")
        if port_open(node.port):
            try:
                admin = KafkaAdminClient(bootstrap_servers=node.bootstrap, request_timeout_ms=3000)
                try:
                    admin.describe_cluster()
                    return
                finally:
                    admin.close()
            except ClientError:
                pass
        time.sleep(0.2)
    raise KafkaError(f"broker {node.node_id} did not answer within {timeout_s:.0f} s:\n{_tail(node)}")


def _tail(node: Node) -> str:
    lines: list[str] = []
    for log in (node.log_file, node.data_dir / "stdout.log"):
        if log.exists():
            lines += log.read_text(errors="replace").splitlines()[-15:]
    return "\n".join(lines)
