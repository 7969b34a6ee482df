"""GTFS-Realtime Service Alerts (protobuf, or its proto3 JSON form) in, one `Incident` per alert.

A feed is a snapshot of every current alert, so each entity stands on its own: a broken
entity is reported as a problem at `entity[i]` while the others still become incidents.
Only what an alert cannot exist without (its id, readable text) refuses it; a time no date
can hold (producers write 2^64-1 for "no end") or a 0 is an open bound, with a warning.
Identity is the entity id under one sender (the feed), so the same alert fetched twice
gives the same incident key and the ingest agent can deduplicate or version it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.transit import gtfs_realtime_pb2 as gtfs
from pydantic import ValidationError

from alertcast.clock import clock
from alertcast.i18n import N_, term
from alertcast.ingest.cap import load_category_table
from alertcast.ingest.json_ import lone_surrogates
from alertcast.ingest.result import ParseResult
from alertcast.models.incident import (
    Area,
    CapCategory,
    Category,
    Certainty,
    Geocode,
    Incident,
    MsgType,
    Severity,
    Urgency,
)
from alertcast.models.problem import Problem, problems_from_validation

FORMAT = "gtfs-rt"
FORMAT_JSON = "gtfs-rt-json"
DEFAULT_SENDER = "gtfs-rt"
MAX_HEADLINE = 500
MAX_UINT64 = 2**64 - 1  # what producers in the wild write as the end of an open-ended period

_SEVERITY_LEVELS = {"INFO": Severity.MINOR, "WARNING": Severity.MODERATE, "SEVERE": Severity.SEVERE}
_SEVERE_EFFECTS = {"NO_SERVICE", "SIGNIFICANT_DELAYS"}

# How informed entities are named in area descriptions, per language (English otherwise).
_SELECTOR_LABELS = {
    "fr": {
        "agency": "réseau",
        "route": "ligne",
        "route_type": "type de ligne",
        "stop": "arrêt",
        "trip": "course",
    },
    "en": {"agency": "agency", "route": "route", "route_type": "route type", "stop": "stop", "trip": "trip"},
}
_SERVICE_ALERT = {"fr": "perturbation", "en": "service alert"}


def parse_gtfs_rt(
    data: bytes,
    source: str = "kafka",
    sender: str = DEFAULT_SENDER,
    default_language: str = "fr",
) -> ParseResult:
    """Decode a binary FeedMessage and map its alerts."""
    result = ParseResult(format=FORMAT)
    message = gtfs.FeedMessage()
    try:
        message.ParseFromString(bytes(data))
    except (DecodeError, ValueError, RecursionError, TypeError) as error:
        result.problems.append(
            Problem.said(
                "",
                "protobuf_decode",
                N_("not a GTFS-Realtime FeedMessage: %(error)s"),
                N_("send the binary protobuf (application/x-protobuf) of a GTFS-RT feed"),
                value=bytes(data[:40]).hex(),
                error=str(error),
            )
        )
        return result
    _map_feed(message, result, source, sender, default_language)
    return result


def parse_gtfs_rt_json(
    data: bytes | str,
    source: str = "kafka",
    sender: str = DEFAULT_SENDER,
    default_language: str = "fr",
) -> ParseResult:
    """Read the proto3 JSON form (camelCase or snake_case names, enum names) and map its alerts."""
    result = ParseResult(format=FORMAT_JSON)
    checked = _without_lone_surrogates(data, result)
    if checked is None:
        return result
    data, refused = checked
    message = gtfs.FeedMessage()
    try:
        json_format.Parse(data, message)
    except (
        json_format.ParseError,
        ValueError,
        UnicodeDecodeError,
        RecursionError,
        TypeError,
    ) as strict_error:
        message = gtfs.FeedMessage()
        try:
            json_format.Parse(data, message, ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, UnicodeDecodeError, RecursionError, TypeError) as error:
            result.problems.append(
                Problem.said(
                    "",
                    "gtfs_rt_json",
                    N_("not a GTFS-Realtime FeedMessage in proto3 JSON: %(error)s"),
                    N_("produce it with google.protobuf.json_format.MessageToJson(feed)"),
                    value=_excerpt(data),
                    error=str(error),
                )
            )
            return result
        result.warnings.append(
            Problem.said(
                "",
                "unknown_fields",
                N_("fields unknown to GTFS-Realtime were ignored: %(error)s"),
                N_("check field names against gtfs-realtime.proto"),
                value=_excerpt(str(strict_error)),
                error=str(strict_error),
            )
        )
    _map_feed(message, result, source, sender, default_language, refused)
    return result


def _without_lone_surrogates(data: bytes | str, result: ParseResult) -> tuple[bytes | str, set[int]] | None:
    """The document with each entity holding an unpaired surrogate emptied (and refused by its
    path), and those entities' indexes; None when the feed itself holds one (it is refused)."""
    try:
        document: Any = json.loads(data)
    except (ValueError, RecursionError):
        return data, set()  # json_format reports what is wrong with it
    entities = document.get("entity") if isinstance(document, dict) else None
    if not isinstance(entities, list):
        entities = []  # json_format says what else is wrong; the whole document is walked below
        rest = document
    else:
        rest = {key: value for key, value in document.items() if key != "entity"}
    problems = lone_surrogates(rest, "", join=_json_path)
    if problems:
        result.problems += problems
        return None
    refused: set[int] = set()
    for index, entity in enumerate(entities):
        found = lone_surrogates(entity, f"entity[{index}]", join=_json_path)
        if found:
            result.problems += found
            refused.add(index)
    if not refused:
        return data, refused
    document["entity"] = [{} if index in refused else entity for index, entity in enumerate(entities)]
    return json.dumps(document), refused


def _json_path(path: str, step: str | int) -> str:
    """GTFS-RT paths: entity[0].alert.headerText."""
    if isinstance(step, int):
        return f"{path}[{step}]"
    return f"{path}.{step}" if path else step


def _map_feed(
    message: gtfs.FeedMessage,
    result: ParseResult,
    source: str,
    sender: str,
    default_language: str,
    refused: set[int] | None = None,
) -> None:
    if message.HasField("header"):
        broken = _invalid_utf8(message.header, "header")
        if broken:
            result.problems += broken
            return
    if not message.HasField("header") or not message.header.gtfs_realtime_version:
        result.problems.append(
            Problem.said(
                "header.gtfs_realtime_version",
                "required",
                N_("a FeedMessage needs a header with gtfs_realtime_version"),
                N_("this does not look like a GTFS-Realtime feed"),
            )
        )
        return
    sent = _timestamp(message.header.timestamp) if message.header.timestamp else None
    if sent is None:
        sent = clock.now()
        result.warnings.append(
            Problem.said(
                "header.timestamp",
                "sent_defaulted",
                N_("the feed header has no usable timestamp; intake time was used as sent"),
                N_("set header.timestamp (POSIX seconds)"),
                value=message.header.timestamp,
            )
        )
    skipped = 0
    for index, entity in enumerate(message.entity):
        if refused and index in refused:
            continue  # already refused, by the path of its unpaired surrogate
        broken = _invalid_utf8(entity, f"entity[{index}]")
        if broken:
            result.problems += broken
            continue
        if entity.is_deleted:
            _deleted(entity, index, sent, source, sender, result)
        elif entity.HasField("alert"):
            _alert(entity, index, sent, source, sender, default_language, result)
        else:
            skipped += 1
    if skipped:
        result.warnings.append(
            Problem.said(
                "entity",
                "non_alert_entities",
                N_("%(count)s entities are trip updates, vehicles or other non-alert data; ignored"),
                N_("alertcast reads Service Alerts only"),
                value=skipped,
                count=skipped,
            )
        )
    if not result.incidents and not result.problems:
        result.problems.append(
            Problem.said(
                "entity",
                "empty",
                N_("the feed holds no alert entity"),
                N_("a GTFS-RT Service Alerts feed lists alert entities"),
                value=len(message.entity),
            )
        )


def _invalid_utf8(message: Message, path: str) -> list[Problem]:
    """Every string field that is not UTF-8 (upb hands those back as bytes), by its path.

    GTFS-RT strings are UTF-8 by definition: one that is not is refused, never guessed at."""
    problems: list[Problem] = []
    stack: list[tuple[str, Message]] = [(path, message)]
    while stack:
        where, current = stack.pop()
        for field, value in current.ListFields():
            name = f"{where}.{field.name}"
            items = list(value) if field.is_repeated else [value]
            for position, item in enumerate(items):
                here = f"{name}[{position}]" if field.is_repeated else name
                if field.type == FieldDescriptor.TYPE_STRING and isinstance(item, bytes):
                    problems.append(
                        Problem.said(
                            here,
                            "invalid_utf8",
                            N_(
                                "this string is not valid UTF-8 (a byte sequence no character "
                                "encodes: a lone surrogate, an overlong form, another encoding)"
                            ),
                            N_("encode every GTFS-Realtime string as UTF-8"),
                            value=item[:200].decode("utf-8", "backslashreplace"),
                        )
                    )
                elif field.type == FieldDescriptor.TYPE_MESSAGE:
                    stack.append((here, item))
    return sorted(problems, key=lambda problem: problem.path)


def _identifier(entity: gtfs.FeedEntity, index: int, result: ParseResult) -> str | None:
    """The entity id, made CAP-safe; ids are stable, so escaping is deterministic."""
    raw = _str(entity.id).strip()
    if not raw:
        result.problems.append(
            Problem.said(f"entity[{index}].id", "required", N_("the entity has no id"), value="")
        )
        return None
    safe = quote(raw, safe="!$'()*+-./:;=?@_~[]#%^|{}\"")
    if safe != raw:
        result.warnings.append(
            Problem.said(
                f"entity[{index}].id",
                "identifier_escaped",
                N_("the id holds spaces, commas, '<' or '&'; it was escaped as '%(escaped)s'"),
                value=raw[:200],
                escaped=safe[:100],
            )
        )
    return safe[:200]


def _deleted(
    entity: gtfs.FeedEntity, index: int, sent: datetime, source: str, sender: str, result: ParseResult
) -> None:
    """A deleted entity ends the alert it named: a Cancel referencing that entity."""
    identifier = _identifier(entity, index, result)
    if identifier is None:
        return
    _validate(
        {
            "identifier": f"{identifier}.deleted"[:200],
            "sender": sender,
            "sent": sent,
            "msg_type": MsgType.CANCEL,
            "source": source,
            "references": [{"sender": sender, "identifier": identifier}],
        },
        f"entity[{index}]",
        result,
    )


def _alert(
    entity: gtfs.FeedEntity,
    index: int,
    sent: datetime,
    source: str,
    sender: str,
    default_language: str,
    result: ParseResult,
) -> None:
    path = f"entity[{index}]"
    identifier = _identifier(entity, index, result)
    alert = entity.alert
    onset, expires, start_unknown = _period_bounds(alert, path, result)
    if identifier is None:
        return
    headers = _translations(alert.header_text, default_language)
    descriptions = _translations(alert.description_text, default_language)
    urls = _translations(alert.url, default_language)
    cause_details = _translations(alert.cause_detail, default_language)
    effect_details = _translations(alert.effect_detail, default_language)
    languages = list(dict.fromkeys([*headers, *descriptions])) or [default_language]
    cause = (
        gtfs.Alert.Cause.Name(alert.cause) if alert.cause in gtfs.Alert.Cause.values() else "UNKNOWN_CAUSE"
    )
    effect = (
        gtfs.Alert.Effect.Name(alert.effect)
        if alert.effect in gtfs.Alert.Effect.values()
        else "UNKNOWN_EFFECT"
    )
    started = onset is None or onset <= sent
    if start_unknown:  # a start no date can hold: neither "now" nor "later" can be claimed
        urgency, certainty = Urgency.UNKNOWN, Certainty.LIKELY
    elif started:
        urgency, certainty = Urgency.IMMEDIATE, Certainty.OBSERVED
    else:
        urgency, certainty = Urgency.EXPECTED, Certainty.LIKELY
    infos = []
    for language in languages:
        event = _event(cause, effect, language)
        headline, description = _headline(headers.get(language, ""), descriptions.get(language, ""), event)
        extra = [text for text in (cause_details.get(language), effect_details.get(language)) if text]
        infos.append(
            {
                "language": language,
                "category": _category(cause, effect),
                "cap_categories": [CapCategory.TRANSPORT],
                "event": event,
                "urgency": urgency,
                "severity": _severity(alert, effect),
                "certainty": certainty,
                "headline": headline,
                "description": "\n\n".join([description, *extra]).strip(),
                "web": _pick(urls, language) or None,
                "onset": onset,
                "expires": expires,
                "areas": _areas(alert.informed_entity, language),
            }
        )
    _validate(
        {
            "identifier": identifier,
            "sender": sender,
            "sent": sent,
            "msg_type": MsgType.ALERT,
            "source": source,
            "info": infos,
        },
        path,
        result,
    )


def _validate(candidate: dict[str, Any], path: str, result: ParseResult) -> None:
    try:
        result.incidents.append(Incident.model_validate(candidate))
    except ValidationError as error:
        for problem in problems_from_validation(error):
            suffix = f".{problem.path}" if problem.path else ""
            result.problems.append(problem.model_copy(update={"path": f"{path}{suffix}"}))


def _translations(text: gtfs.TranslatedString, default_language: str) -> dict[str, str]:
    """language -> text; an untagged translation is in the feed's default language."""
    found: dict[str, str] = {}
    for translation in text.translation:
        language = _str(translation.language).strip() or default_language
        value = _str(translation.text).strip()
        if value and language.lower() not in {key.lower() for key in found}:
            found[language] = value
    return found


def _pick(texts: Mapping[str, str], language: str) -> str:
    """The text in `language`, else the first one given (for URLs, which rarely depend on it)."""
    if language in texts:
        return texts[language]
    return next(iter(texts.values()), "")


def _headline(header: str, description: str, event: str) -> tuple[str, str]:
    """A headline within the model's limit; a longer header keeps its full text in the description."""
    if not header:
        first_line = description.strip().splitlines()[0] if description.strip() else ""
        header = first_line or event
    header = " ".join(header.split())
    if len(header) <= MAX_HEADLINE:
        return header, description
    cut = header[: MAX_HEADLINE - 1].rsplit(" ", 1)[0] + "…"
    return cut, "\n\n".join(part for part in (header, description) if part)


def _event(cause: str, effect: str, language: str) -> str:
    base = language.split("-")[0].lower()
    if effect in ("UNKNOWN_EFFECT", "OTHER_EFFECT"):
        label = _SERVICE_ALERT.get(base, _SERVICE_ALERT["en"])
    else:
        label = effect.lower().replace("_", " ")
    if cause not in ("UNKNOWN_CAUSE", "OTHER_CAUSE"):
        label += f" ({cause.lower().replace('_', ' ')})"
    return label


def _category(cause: str, effect: str) -> Category:
    table = load_category_table("gtfs_rt")
    causes: Mapping[str, str] = table.get("causes") or {}
    effects: Mapping[str, str] = table.get("effects") or {}
    if cause in causes:
        return Category(causes[cause])
    if effect in effects:
        return Category(effects[effect])
    return Category(table.get("default", "transport_disruption"))


def _severity(alert: gtfs.Alert, effect: str) -> Severity:
    level = gtfs.Alert.SeverityLevel.Name(alert.severity_level) if alert.HasField("severity_level") else ""
    if level in _SEVERITY_LEVELS:
        return _SEVERITY_LEVELS[level]
    if effect in _SEVERE_EFFECTS:
        return Severity.MODERATE
    if effect == "UNKNOWN_EFFECT":
        return Severity.UNKNOWN
    return Severity.MINOR


def _timestamp(seconds: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _period_bounds(
    alert: gtfs.Alert, path: str, result: ParseResult
) -> tuple[datetime | None, datetime | None, bool]:
    """The envelope of the active periods: earliest start, latest end (None when open), and
    whether a start could not be read (then nobody can say whether the alert has begun).

    0 and times no date can hold (2^64-1 is the usual "no end" of producers in the wild) are
    open bounds, each with a warning: they never refuse the alert."""
    starts: list[datetime | None] = []
    ends: list[datetime | None] = []
    start_unknown = False
    for index, period in enumerate(alert.active_period):
        for name, target in (("start", starts), ("end", ends)):
            if not period.HasField(name):
                target.append(None)
                continue
            seconds: int = getattr(period, name)
            moment = _timestamp(seconds) if seconds else None
            if moment is None:
                result.warnings.append(
                    _open_bound(f"{path}.alert.active_period[{index}].{name}", name, seconds)
                )
                start_unknown = start_unknown or (name == "start" and seconds != 0)
            target.append(moment)
    onset = None if not starts or None in starts else min(s for s in starts if s is not None)
    expires = None if not ends or None in ends else max(e for e in ends if e is not None)
    return onset, expires, start_unknown


def _open_bound(path: str, name: str, seconds: int) -> Problem:
    """The warning for a period bound read as open: 0, or a time beyond any date."""
    bound = N_("no end") if name == "end" else N_("no start")
    if seconds == 0:
        rule, why = "timestamp_zero", N_("0 (1970-01-01) is not a real bound")
    elif seconds == MAX_UINT64:
        rule, why = "timestamp_range", N_("the largest 64-bit value is a marker, not a time")
    else:
        rule, why = "timestamp_range", N_("this POSIX time is beyond any representable date")
    left_out = N_("the period is open-ended") if name == "end" else N_("when the alert begins is unknown")
    if name == "start" and seconds == 0:
        left_out = N_("the period is open from the start")
    return Problem.said(
        path,
        rule,
        N_("%(why)s: read as %(bound)s (%(left_out)s)"),
        N_("leave `%(field)s` out when the period has %(bound)s"),
        value=seconds,
        why=term(why),
        bound=term(bound),
        left_out=term(left_out),
        field=name,
    )


def _areas(selectors: Sequence[gtfs.EntitySelector], language: str) -> list[Area]:
    """One area naming every informed entity, each also kept as a gtfs_* geocode."""
    labels = _SELECTOR_LABELS.get(language.split("-")[0].lower(), _SELECTOR_LABELS["en"])
    geocodes: list[Geocode] = []
    names: list[str] = []
    for selector in selectors:
        pairs: list[tuple[str, str, str]] = []
        if selector.agency_id:
            pairs.append(("gtfs_agency_id", _str(selector.agency_id), labels["agency"]))
        if selector.route_id:
            pairs.append(("gtfs_route_id", _str(selector.route_id), labels["route"]))
        if selector.HasField("route_type"):
            pairs.append(("gtfs_route_type", str(selector.route_type), labels["route_type"]))
        if selector.HasField("trip") and selector.trip.trip_id:
            pairs.append(("gtfs_trip_id", _str(selector.trip.trip_id), labels["trip"]))
        if selector.HasField("trip") and selector.trip.route_id and not selector.route_id:
            pairs.append(("gtfs_route_id", _str(selector.trip.route_id), labels["route"]))
        if selector.stop_id:
            pairs.append(("gtfs_stop_id", _str(selector.stop_id), labels["stop"]))
        for value_name, value, label in pairs:
            geocode = Geocode(value_name=value_name, value=value.strip() or "?")
            if geocode not in geocodes:
                geocodes.append(geocode)
                names.append(f"{label} {value.strip()}")
    if not geocodes:
        return []
    area_desc = ", ".join(names)
    if len(area_desc) > 500:
        area_desc = area_desc[:499].rsplit(", ", 1)[0] + "…"
    return [Area(area_desc=area_desc, geocodes=geocodes)]


def _str(value: str | bytes) -> str:
    """proto2 string fields come back as bytes when a feed holds invalid UTF-8."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _excerpt(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text[:200]
