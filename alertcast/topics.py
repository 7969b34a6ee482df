"""Declarative topics: `topics/*.yaml` is the truth, `apply` makes the broker match it.

Creating what is missing is safe to automate; changing a live topic is not (fewer partitions
is impossible, a shorter retention deletes data), so differences are reported, never applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from alertcast.settings import ROOT

TOPICS_DIR = ROOT / "topics"
TOPIC_ALREADY_EXISTS = 36


class TopicSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    partitions: int = Field(default=6, ge=1)
    config: dict[str, str] = Field(default_factory=dict)


class _TopicFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topics: list[TopicSpec]


def load_specs(folder: Path = TOPICS_DIR) -> list[TopicSpec]:
    specs: list[TopicSpec] = []
    for path in sorted(folder.glob("*.yaml")):
        specs += _TopicFile.model_validate(yaml.safe_load(path.read_text())).topics
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"topics declared twice in {folder}: {', '.join(duplicates)}")
    return specs


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    replication: int = 1
    brokers: int = 1

    def lines(self) -> list[str]:
        out = [f"created {name}" for name in self.created]
        if self.created:
            out.append(
                f"replication factor {self.replication}, min.insync.replicas "
                f"{_min_isr(self.replication)} (fitted to the {self.brokers} broker(s) found)"
            )
        out += [f"differs {line}" for line in self.differences]
        if not self.created and not self.differences:
            out.append(f"no change: all {len(self.unchanged)} topics exist with the declared settings")
        else:
            out.append(
                f"{len(self.created)} created, {len(self.differences)} difference(s) reported "
                f"(not changed), {len(self.unchanged)} unchanged"
            )
        return out


def apply(bootstrap: str, prefix: str = "", specs: list[TopicSpec] | None = None) -> ApplyReport:
    """Create missing topics; report those whose partitions or settings differ from the files."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

    specs = load_specs() if specs is None else specs
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="alertcast-topics")
    try:
        brokers = len(admin.describe_cluster()["brokers"])
        report = ApplyReport(replication=min(3, brokers), brokers=brokers)
        existing = set(admin.list_topics())
        wanted = {prefix + spec.name: spec for spec in specs}
        missing = [name for name in wanted if name not in existing]
        if missing:
            answer = admin.create_topics(
                [
                    NewTopic(
                        name,
                        wanted[name].partitions,
                        report.replication,
                        topic_configs=_with_min_isr(wanted[name].config, report.replication),
                    )
                    for name in missing
                ],
                raise_errors=False,
                wait_for_metadata=True,  # so the next apply, at once, sees them
            )
            for result in answer["topics"]:
                if result["error_code"] == 0:
                    report.created.append(result["name"])
                elif result["error_code"] == TOPIC_ALREADY_EXISTS:  # created meanwhile by another apply
                    existing.add(result["name"])
                else:
                    raise RuntimeError(f"cannot create topic {result['name']}: {result['error_message']}")
        present = [name for name in wanted if name in existing]
        if present:
            described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(present)}
            configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in present])
            for name in present:
                spec = wanted[name]
                actual = {k: v["value"] for k, v in configs["topic"].get(name, {}).items()}
                problems = []
                if described.get(name) != spec.partitions:
                    problems.append(f"partitions {described.get(name)} (declared {spec.partitions})")
                for key, value in spec.config.items():
                    if actual.get(key) != value:
                        problems.append(f"{key}={actual.get(key)} (declared {value})")
                if problems:
                    report.differences.append(f"{name}: " + ", ".join(problems))
                else:
                    report.unchanged.append(name)
        return report
    finally:
        admin.close()


def _min_isr(replication: int) -> int:
    """Production settings (min.insync.replicas=2) only make sense with 3 replicas."""
    return max(1, min(2, replication - 1))


def _with_min_isr(config: dict[str, str], replication: int) -> dict[str, str]:
    return {**config, "min.insync.replicas": str(_min_isr(replication))}
