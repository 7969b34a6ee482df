"""The CAP documents speak the standard back: every document the site publishes (`cap/`, which
`cap.xml` indexes) validates against the official CAP 1.2 schema and parses, with alertcast's own
CAP parser, into the incident it came from."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from conftest import EXAMPLES, SAMPLES, SHARED
from lxml import etree

from alertcast.ingest.cap import parse_cap
from alertcast.models import Incident, MsgType, alert_id_for
from alertcast.site.builder import build_site
from alertcast.site.cap_writer import cap_categories
from alertcast.site.model import PublishedAlert

VALID_SAMPLES = sorted(
    path for path in (SAMPLES / "cap").glob("*.xml") if not path.name.startswith(("invalid-", "lenient-"))
)


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SHARED / "schemas" / "CAP-v1.2.xsd"))


def comparable(incident: Incident) -> dict[str, Any]:
    """What CAP carries: alertcast's own category and intake source are not CAP fields."""
    data = incident.model_dump(mode="json", exclude={"source"})
    for info in data["info"]:
        info.pop("category")
    return data


def feed_documents(site: Path) -> list[bytes]:
    """Every CAP document the site publishes (the samples' alerts ended long before the
    build's `now`, so `cap.xml` no longer lists them; their documents stay)."""
    return [path.read_bytes() for path in sorted((site / "cap").glob("*.xml"))]


def published(versions: list[Incident], at: datetime) -> PublishedAlert:
    alert = PublishedAlert(alert_id=alert_id_for(versions[0].key), versions=[])
    for number, incident in enumerate(versions, start=1):
        alert = alert.with_version(number, incident, at)
    return alert


def roundtrip(tmp_path: Path, alerts: list[PublishedAlert], schema: xmlschema.XMLSchema) -> list[Incident]:
    build_site(alerts, tmp_path, now=datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    incidents = []
    for document in feed_documents(tmp_path):
        schema.validate(etree.fromstring(document))
        result = parse_cap(document)
        assert not result.problems, [p.line() for p in result.problems]
        incidents += result.incidents
    return incidents


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_each_real_sample_comes_back_the_same(
    tmp_path: Path, sample: Path, schema: xmlschema.XMLSchema
) -> None:
    (original,) = parse_cap(sample.read_bytes()).incidents
    back = roundtrip(tmp_path, [published([original], original.sent + timedelta(minutes=1))], schema)
    assert [comparable(incident) for incident in back] == [comparable(original)]


def test_an_alert_update_cancel_chain_keeps_its_references(
    tmp_path: Path, schema: xmlschema.XMLSchema
) -> None:
    alert, update = (
        Incident.model_validate(json.loads((EXAMPLES / name).read_text()))
        for name in ("01-road-closure-d934.json", "04-road-closure-d934-update.json")
    )
    cancel = update.model_copy(
        update={
            "identifier": "dir-nord-2026-1203-d934-3",
            "msg_type": MsgType.CANCEL,
            "sent": update.sent + timedelta(hours=1),
        }
    )
    chain = [alert, update, cancel]
    back = sorted(roundtrip(tmp_path, [published(chain, cancel.sent)], schema), key=lambda i: i.sent)
    assert [(i.identifier, i.msg_type.value) for i in back] == [
        ("dir-nord-2026-1203-d934", "Alert"),
        ("dir-nord-2026-1203-d934-2", "Update"),
        ("dir-nord-2026-1203-d934-3", "Cancel"),
    ]
    assert [[r.identifier for r in i.references] for i in back] == [
        [],
        ["dir-nord-2026-1203-d934"],
        ["dir-nord-2026-1203-d934", "dir-nord-2026-1203-d934-2"],
    ]
    # CAP requires a category: an info without CAP categories gets the one mapped from its own.
    expected = [
        o.model_copy(
            update={"info": [i.model_copy(update={"cap_categories": cap_categories(i)}) for i in o.info]}
        )
        for o in chain
    ]
    assert [comparable(b)["info"] for b in back] == [comparable(e)["info"] for e in expected]
