"""DATEX II road situations (v2 d2LogicalModel, v3 messageContainer/payload) in, one `Incident` per situation.

DATEX II is coded data (record types and enumerations) with optional free-text comments.
Each situation becomes an incident whose texts come from those comments in their own
language; where a publication has no comment, alertcast writes French and English texts
from the coded values, so nothing citizens need is lost. Elements are matched by local
name within the DATEX II namespaces, which keeps v2, v3 and v3.5 on one code path.

`sent` is the situation's own version time, not the publication time: a snapshot feed is
republished every minute, and the same unchanged situation must look the same each time.

Only what a situation cannot exist without refuses it: its id, a situationRecord (what),
and a readable document. Publications in the wild carry unreadable optional values (a
template placeholder for an end time, a coordinate that is no number, a one-letter
language): each is a warning naming its path, value and rule, and is left out.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from alertcast.clock import clock
from alertcast.i18n import N_
from alertcast.ingest.cap import (
    element_text,
    load_category_table,
    parse_xml_datetime,
    parse_xml_safely,
    split_tag,
)
from alertcast.ingest.result import ParseResult
from alertcast.models.incident import (
    Area,
    CapCategory,
    Category,
    Certainty,
    Circle,
    Geocode,
    Incident,
    MsgType,
    Point,
    Scope,
    Severity,
    Status,
    Urgency,
)
from alertcast.models.problem import Problem, problems_from_validation

FORMAT = "datex2"
NAMESPACE_PREFIX = "http://datex2.eu/schema/"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
POINT_RADIUS_KM = 0.1  # a DATEX point shown as a circle small enough to mean "here"
GENERATED_LANGUAGES = ("fr", "en")

_SEVERITY = {
    "highest": Severity.SEVERE,
    "high": Severity.SEVERE,
    "medium": Severity.MODERATE,
    "low": Severity.MINOR,
    "lowest": Severity.MINOR,
    "none": Severity.MINOR,
    "unknown": Severity.UNKNOWN,
}
_SEVERITY_ORDER = ["unknown", "none", "lowest", "low", "medium", "high", "highest"]
_CERTAINTY = {
    "certain": Certainty.OBSERVED,
    "probable": Certainty.LIKELY,
    "riskOf": Certainty.POSSIBLE,
    "improbable": Certainty.UNLIKELY,
}
_STATUS = {
    "real": Status.ACTUAL,
    "securityExercise": Status.EXERCISE,
    "technicalExercise": Status.EXERCISE,
    "test": Status.TEST,
}

# Labels of record types and of the coded values citizens care about. Languages without
# labels use the publisher's own comments; unlisted values fall back to English words.
_LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "VehicleObstruction": "Obstacle sur la chaussée",
        "brokenDownVehicle": "Véhicule en panne",
        "Accident": "Accident",
        "AbnormalTraffic": "Circulation perturbée",
        "GeneralObstruction": "Obstacle sur la chaussée",
        "AnimalPresenceObstruction": "Animaux sur la chaussée",
        "EnvironmentalObstruction": "Obstacle naturel sur la chaussée",
        "MaintenanceWorks": "Travaux",
        "ConstructionWorks": "Chantier",
        "roadworks": "Travaux routiers",
        "RoadOrCarriagewayOrLaneManagement": "Restriction de circulation",
        "roadClosed": "Route fermée",
        "carriagewayClosures": "Chaussée fermée",
        "laneClosures": "Voies fermées",
        "SpeedManagement": "Limitation de vitesse",
        "speedRestrictionInOperation": "Limitation de vitesse en vigueur",
        "ReroutingManagement": "Déviation",
        "followLocalDiversion": "Suivre la déviation locale",
        "followDiversionSigns": "Suivre la déviation",
        "TransitInformation": "Transports perturbés",
        "ferry": "Bac",
        "delaysDueToFlotsam": "Interruption pour flottage de bois",
        "PoorEnvironmentConditions": "Conditions météorologiques difficiles",
        "WeatherRelatedRoadConditions": "Route rendue difficile par la météo",
        "PublicEvent": "Manifestation",
        "DisturbanceActivity": "Perturbation",
        "roadMaintenance": "Entretien de la route",
        "lanesBlocked": "Voies bloquées",
        "other": "Autre",
    },
    "en": {
        "VehicleObstruction": "Vehicle obstruction",
        "MaintenanceWorks": "Roadworks",
        "RoadOrCarriagewayOrLaneManagement": "Traffic management",
        "ReroutingManagement": "Diversion",
        "TransitInformation": "Public transport disruption",
        "delaysDueToFlotsam": "Suspended for timber floating",
        "PoorEnvironmentConditions": "Poor weather conditions",
    },
}
_EVENT_FALLBACK = {"fr": "Événement routier", "en": "Road event"}
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8}){0,8}")


@dataclass
class _Comment:
    language: str
    text: str
    kind: str


@dataclass
class _Record:
    path: str
    type: str
    values: list[str] = field(default_factory=list)
    kind: str = ""
    version_time: datetime | None = None
    start: datetime | None = None
    start_unreadable: bool = False
    end: datetime | None = None
    open_ended: bool = True
    severity: str | None = None
    probability: str | None = None
    source: str | None = None
    comments: list[_Comment] = field(default_factory=list)
    location: ET.Element | None = None
    ended: bool = False


def parse_datex2(
    data: bytes | str,
    source: str = "kafka",
    sender: str | None = None,
    default_language: str = "fr",
) -> ParseResult:
    """Every situation of a SituationPublication; broken situations are refused one by one."""
    result = ParseResult(format=FORMAT)
    root, problems = parse_xml_safely(data, "DATEX II")
    if root is None:
        result.problems.extend(problems)
        return result
    namespace, local = split_tag(root.tag)
    if not namespace.startswith(NAMESPACE_PREFIX):
        result.problems.append(
            Problem.said(
                local,
                "namespace",
                N_("<%(element)s> in namespace '%(namespace)s' is not DATEX II"),
                N_("send a v2 d2LogicalModel or a v3 messageContainer/payload (http://datex2.eu/schema/...)"),
                value=f"{{{namespace}}}{local}" if namespace else local,
                element=local,
                namespace=namespace or "(none)",
            )
        )
        return result
    publications = list(_publications(root))
    if not publications:
        result.problems.append(
            Problem.said(
                local,
                "unsupported_publication",
                N_("no SituationPublication found in this DATEX II document"),
                N_("alertcast reads situations only (not measured or elaborated data)"),
                value=[_xsi_type(p) for p in _payloads(root)] or local,
            )
        )
        return result
    for publication in publications:
        _publication(root, publication, result, source, sender, default_language)
    if not result.incidents and not result.problems:
        result.problems.append(
            Problem.said("situation", "empty", N_("the publication holds no situation"), value=0)
        )
    return result


def _payloads(root: ET.Element) -> Iterator[ET.Element]:
    if _local(root) in ("payloadPublication", "payload"):
        yield root
    for child in root:
        if _local(child) in ("payloadPublication", "payload"):
            yield child


def _publications(root: ET.Element) -> Iterator[ET.Element]:
    for payload in _payloads(root):
        if _xsi_type(payload) == "SituationPublication" or _child(payload, "situation") is not None:
            yield payload


def _publication(
    root: ET.Element,
    publication: ET.Element,
    result: ParseResult,
    source: str,
    sender: str | None,
    default_language: str,
) -> None:
    language = _language(publication.get("lang"), default_language, f"{_local(publication)}@lang", result)
    published = _time(_child(publication, "publicationTime"), "publicationTime", result)
    if sender is None:
        sender = _sender(root, publication)
        if sender is None:
            sender = "datex2"
            result.warnings.append(
                Problem.said(
                    "publicationCreator",
                    "sender_defaulted",
                    N_("the publication names no creator or supplier; sender 'datex2' was used"),
                    N_("add publicationCreator (country, nationalIdentifier) or set the source's sender"),
                )
            )
    for index, situation in enumerate(_children(publication, "situation")):
        _situation(situation, f"situation[{index}]", result, source, sender, language, published)


def _sender(root: ET.Element, publication: ET.Element) -> str | None:
    """country:nationalIdentifier of the publication's creator, else of the exchange's supplier."""
    candidates = [_child(publication, "publicationCreator")]
    candidates += [
        e for e in root.iter() if _local(e) in ("supplierIdentification", "internationalIdentifier")
    ]
    for candidate in candidates:
        if candidate is None:
            continue
        national = _text(_child(candidate, "nationalIdentifier"))
        if national:
            country = _text(_child(candidate, "country")).lower()
            name = f"{country}:{national}" if country else national
            return re.sub(r"[\s,<&]+", "_", name)[:200]
    return None


def _situation(
    situation: ET.Element,
    path: str,
    result: ParseResult,
    source: str,
    sender: str,
    language: str,
    published: datetime | None,
) -> None:
    raw_id = (situation.get("id") or "").strip()
    if not raw_id:
        result.problems.append(Problem.said(f"{path}.id", "required", N_("the situation has no id")))
        return
    identifier = quote(raw_id, safe="!$'()*+-./:;=?@_~[]#%^|{}\"")[:200]
    if identifier != raw_id:
        result.warnings.append(
            Problem.said(
                f"{path}.id",
                "identifier_escaped",
                N_("the id holds spaces, commas, '<' or '&'; it was escaped as '%(escaped)s'"),
                value=raw_id[:200],
                escaped=identifier[:100],
            )
        )
    records = [
        _record(element, f"{path}.situationRecord[{index}]", language, result)
        for index, element in enumerate(_children(situation, "situationRecord"))
    ]
    if not records:
        result.problems.append(
            Problem.said(
                f"{path}.situationRecord",
                "required",
                N_("the situation has no situationRecord"),
                value=raw_id,
            )
        )
        return
    version_time = _time(_child(situation, "situationVersionTime"), f"{path}.situationVersionTime", result)
    record_times = [r.version_time for r in records if r.version_time is not None]
    sent = version_time or (max(record_times) if record_times else None) or published
    if sent is None:
        sent = clock.now()
        result.warnings.append(
            Problem.said(
                f"{path}.situationVersionTime",
                "sent_defaulted",
                N_("no version or publication time; intake time was used as sent"),
            )
        )
    header = _child(situation, "headerInformation")
    confidentiality = _text(_child(header, "confidentiality"))
    information_status = _text(_child(header, "informationStatus"))
    base: dict[str, Any] = {
        "sender": sender,
        "sent": sent,
        "source": source,
        "status": _STATUS.get(information_status, Status.ACTUAL),
        "scope": _scope(confidentiality),
    }
    if all(record.ended for record in records):
        candidate = {
            **base,
            "identifier": f"{identifier}.cancel"[:200],
            "msg_type": MsgType.CANCEL,
            "references": [{"sender": sender, "identifier": identifier}],
        }
    else:
        candidate = {**base, "identifier": identifier, "msg_type": MsgType.ALERT}
        candidate["info"] = _infos(situation, records, language, sent, path, result)
    try:
        result.incidents.append(Incident.model_validate(candidate))
    except ValidationError as error:
        for problem in problems_from_validation(error):
            suffix = f".{problem.path}" if problem.path else ""
            result.problems.append(problem.model_copy(update={"path": f"{path}{suffix}"}))


def _scope(confidentiality: str) -> Scope:
    if confidentiality.startswith("restricted"):
        return Scope.RESTRICTED
    if confidentiality == "internalUse":
        return Scope.PRIVATE
    return Scope.PUBLIC


def _record(element: ET.Element, path: str, language: str, result: ParseResult) -> _Record:
    record = _Record(path=path, type=_xsi_type(element) or "SituationRecord")
    for child in element:
        name = _local(child)
        if name.endswith("Type") or name == "transitServiceInformation":
            if _text(child):
                record.values.append(_text(child))
                if not record.kind and _text(child) not in ("other", "unknown"):
                    record.kind = _text(child)  # the record's own coded type names the event
        elif name == "cause":
            record.values += [_text(c) for c in child if _local(c).endswith("Type") and _text(c)]
        elif name == "impact":
            constriction = _child(child, "trafficConstrictionType")
            if constriction is not None and _text(constriction):
                record.values.append(_text(constriction))
    record.version_time = _time(
        _child(element, "situationRecordVersionTime"), f"{path}.situationRecordVersionTime", result
    )
    record.severity = _coded(element, "severity", _SEVERITY, path, result)
    record.probability = _coded(element, "probabilityOfOccurrence", _CERTAINTY, path, result)
    spec = _child(_child(element, "validity"), "validityTimeSpecification")
    start = _child(spec, "overallStartTime")
    record.start = _time(start, f"{path}.validity.overallStartTime", result)
    record.start_unreadable = record.start is None and bool(_text(start))
    record.end = _time(_child(spec, "overallEndTime"), f"{path}.validity.overallEndTime", result)
    record.open_ended = record.end is None
    source = _child(element, "source")
    if source is not None:
        identification = _text(_child(source, "sourceIdentification"))
        record.source = identification or _value_in(_child(source, "sourceName"), language) or None
    for number, comment in enumerate(_children(element, "generalPublicComment")):
        kind = _text(_child(comment, "commentType")) or "description"
        for position, value in enumerate(_values(_child(comment, "comment"))):
            text = _text(value)
            if text:
                where = f"{path}.generalPublicComment[{number}].comment.values.value[{position}]@lang"
                comment_language = _language(value.get("lang"), language, where, result)
                record.comments.append(_Comment(comment_language, _tidy(text), kind))
    record.location = _child(element, "groupOfLocations")
    if record.location is None:
        record.location = _child(element, "locationReference")
    if record.location is not None:
        _check_points(record.location, f"{path}.{_local(record.location)}", result)
    for lifecycle in (e for e in element.iter() if _local(e) == "lifeCycleManagement"):
        if any(_local(flag) in ("cancel", "end") and _text(flag) == "true" for flag in lifecycle):
            record.ended = True
    return record


def _infos(
    situation: ET.Element,
    records: list[_Record],
    language: str,
    sent: datetime,
    path: str,
    result: ParseResult,
) -> list[dict[str, Any]]:
    """One info per comment language; texts from the coded values when there is no comment."""
    category, main = _category(records)
    comment_languages = [c.language for r in records for c in r.comments]
    spellings: dict[str, str] = {}  # "fi" and "FI" are one language: one info, first spelling
    for comment_language in sorted(comment_languages, key=lambda lang: lang.lower() != language.lower()):
        spellings.setdefault(comment_language.lower(), comment_language)
    languages = list(spellings.values())
    if not languages:
        languages = list(GENERATED_LANGUAGES)
    starts = [r.start for r in records]
    onset = None if not starts or None in starts else min(s for s in starts if s is not None)
    ends = [r.end for r in records]
    expires = None if None in ends else max(e for e in ends if e is not None)
    if onset is not None and expires is not None and expires <= onset:
        result.warnings.append(
            Problem.said(
                f"{path}.validity.overallEndTime",
                "end_before_start",
                N_("the validity ends before it starts; the end was dropped"),
                N_("check overallStartTime and overallEndTime"),
                value=expires.isoformat(),
            )
        )
        expires = None
    overall = _coded(situation, "overallSeverity", _SEVERITY, path, result) or _max_severity(records)
    probability = next((r.probability for r in records if r.probability), None)
    if expires is not None and expires <= sent:
        urgency = Urgency.PAST
    elif any(r.start_unreadable for r in records):
        urgency = Urgency.UNKNOWN  # its start was unreadable: neither "now" nor "later" is known
    elif onset is None or onset <= sent:
        urgency = Urgency.IMMEDIATE
    else:
        urgency = Urgency.EXPECTED
    sender_name = next((r.source for r in records if r.source), None)
    infos = []
    for info_language in languages:
        area = _area(records, info_language)
        event = _label(main.kind or main.type, info_language, main.type)
        comments = [c for r in records for c in r.comments if c.language.lower() == info_language.lower()]
        comments.sort(key=lambda c: c.kind != "description")
        texts = list(dict.fromkeys(c.text for c in comments))
        labelled = info_language.split("-")[0].lower() in _LABELS
        details = _details(records, info_language) if labelled else ""
        if labelled or not texts:
            where = f" – {area.area_desc}" if area is not None else ""
            headline = f"{event}{where}"
        else:
            headline = texts[0].splitlines()[0]
        if len(headline) > 500:
            headline = headline[:499].rsplit(" ", 1)[0] + "…"
        infos.append(
            {
                "language": info_language,
                "category": category,
                "cap_categories": [CapCategory.TRANSPORT],
                "event": event[:500],
                "urgency": urgency,
                "severity": _SEVERITY.get(overall, Severity.UNKNOWN),
                "certainty": _CERTAINTY.get(probability or "", Certainty.UNKNOWN),
                "sender_name": sender_name[:500] if sender_name else None,
                "headline": headline,
                "description": "\n\n".join(part for part in [*texts, details] if part)[:10_000],
                "onset": onset,
                "expires": expires,
                "areas": [area] if area is not None else [],
            }
        )
    return infos


def _category(records: list[_Record]) -> tuple[Category, _Record]:
    """The situation's category by the table's priority, and the record that gave it."""
    table = load_category_table("datex2")
    by_value: Mapping[str, str] = table.get("values") or {}
    by_type: Mapping[str, str] = table.get("record_types") or {}
    priority: list[str] = list(table.get("priority") or [])
    found: list[tuple[int, int, str, _Record]] = []
    for order, record in enumerate(records):
        for value in record.values:
            if value in by_value:
                name = by_value[value]
                found.append((_rank(priority, name), order, name, record))
        if record.type in by_type:
            name = by_type[record.type]
            found.append((_rank(priority, name), order, name, record))
    if not found:
        return Category(table.get("default", "traffic")), records[0]
    _, _, name, record = min(found, key=lambda item: (item[0], item[1]))
    return Category(name), record


def _rank(priority: list[str], name: str) -> int:
    return priority.index(name) if name in priority else len(priority)


def _max_severity(records: list[_Record]) -> str:
    ranked = [r.severity for r in records if r.severity in _SEVERITY_ORDER]
    return max(ranked, key=_SEVERITY_ORDER.index) if ranked else "unknown"


def _label(value: str, language: str, fallback: str = "") -> str:
    """A coded value in words: the language's label, else the record type's, else a generic one."""
    for key in (value, fallback):
        known = _known_label(key, language)
        if known:
            return known
    return _EVENT_FALLBACK.get(language.split("-")[0].lower(), _EVENT_FALLBACK["en"])


def _known_label(value: str, language: str) -> str | None:
    """Only French and English have labels; English can always fall back on the code's own words."""
    base = language.split("-")[0].lower()
    if value in _LABELS.get(base, {}):
        return _LABELS[base][value]
    if base in _LABELS and base != "en":
        return None
    return _LABELS["en"].get(value) or _humanize(value) or None


def _humanize(value: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", value).lower().strip()
    return words[:1].upper() + words[1:]


def _details(records: list[_Record], language: str) -> str:
    """The coded facts, one line per record, so the texts keep what the codes said."""
    lines = []
    for record in records:
        labels = [_known_label(code, language) for code in (record.type, *record.values)]
        line = " – ".join(dict.fromkeys(label for label in labels if label))
        if line not in lines:
            lines.append(line)
    return "\n".join(lines)


def _area(records: list[_Record], language: str) -> Area | None:
    """Names and road numbers as the description, points as tiny circles, ALERT-C codes as geocodes."""
    names: list[str] = []
    points: list[Point] = []
    geocodes: list[Geocode] = []
    for record in records:
        if record.location is None:
            continue
        for element in record.location.iter():
            name = _local(element)
            if name in ("descriptor", "alertCLocationName", "roadName"):
                text = _value_in(element, language)
                if text and text not in names:
                    names.append(text)
            elif name == "roadNumber" and _text(element) and _text(element) not in names:
                names.append(_text(element))
            elif name in ("pointCoordinates", "locationForDisplay"):
                point = _point(_text(_child(element, "latitude")), _text(_child(element, "longitude")))
                if point is not None and point not in points:
                    points.append(point)
            elif name == "posList":
                numbers = _text(element).split()
                for lat, lon in (numbers[0:2], numbers[-2:]) if len(numbers) >= 2 else ():
                    point = _point(lat, lon)
                    if point is not None and point not in points:
                        points.append(point)
            elif name in ("alertCPoint", "alertCLinear", "alertCArea"):
                geocodes += [g for g in _alert_c(element) if g not in geocodes]
    if names:
        area_desc = ", ".join(names)
    elif geocodes:
        area_desc = "ALERT-C " + ", ".join(
            f"{g.value_name.removeprefix('alertc:')} {g.value}" for g in geocodes
        )
    elif points:
        area_desc = ", ".join(f"{p.lat},{p.lon}" for p in points[:2])
    else:
        return None
    if len(area_desc) > 500:
        area_desc = area_desc[:499].rsplit(", ", 1)[0] + "…"
    circles = [Circle(center=point, radius_km=POINT_RADIUS_KM) for point in points]
    return Area(area_desc=area_desc, circles=circles, geocodes=geocodes)


def _alert_c(element: ET.Element) -> list[Geocode]:
    country = _text(_child(element, "alertCLocationCountryCode"))
    table = _text(_child(element, "alertCLocationTableNumber"))
    value_name = f"alertc:{country}:{table}" if country or table else "alertc"
    return [
        Geocode(value_name=value_name, value=_text(location))
        for location in element.iter()
        if _local(location) == "specificLocation" and _text(location)
    ]


def _point(lat: str, lon: str) -> Point | None:
    try:
        latitude, longitude = float(lat), float(lon)
    except ValueError:
        return None
    if -90 <= latitude <= 90 and -180 <= longitude <= 180:
        return Point(lat=latitude, lon=longitude)
    return None


# --- small element helpers ----------------------------------------------------------------------


def _local(element: ET.Element) -> str:
    return split_tag(element.tag)[1]


def _xsi_type(element: ET.Element) -> str:
    return (element.get(XSI_TYPE) or "").split(":")[-1]


def _child(element: ET.Element | None, name: str) -> ET.Element | None:
    if element is None:
        return None
    for child in element:
        if _local(child) == name:
            return child
    return None


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child) == name]


def _text(element: ET.Element | None) -> str:
    return element_text(element) if element is not None else ""


def _values(element: ET.Element | None) -> list[ET.Element]:
    """The <value lang=..> texts of a multilingual string (values/value)."""
    values = _child(element, "values")
    return _children(values, "value") if values is not None else []


def _value_in(element: ET.Element | None, language: str) -> str:
    values = _values(element)
    for value in values:
        if (value.get("lang") or language).lower() == language.lower() and _text(value):
            return _tidy(_text(value))
    return next((_tidy(_text(v)) for v in values if _text(v)), "")


def _tidy(text: str) -> str:
    """Drop the indentation pretty-printers leave inside text, keep paragraphs."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def _time(element: ET.Element | None, path: str, result: ParseResult) -> datetime | None:
    """The time, or None when absent or unreadable (a warning: a situation exists without it)."""
    if element is None or not _text(element):
        return None
    try:
        return parse_xml_datetime(_text(element))
    except ValueError as error:
        result.warnings.append(
            Problem.said(
                path,
                "datetime",
                N_("not a date-time with offset (%(error)s); this time is left out"),
                N_("write an ISO 8601 date-time with offset, e.g. 2026-07-24T08:06:04+02:00"),
                value=_text(element)[:200],
                error=str(error),
            )
        )
        return None


def _coded(
    element: ET.Element | None, name: str, known: Mapping[str, Any], path: str, result: ParseResult
) -> str | None:
    """An optional coded value (severity, probability): unknown codes are a warning, left out."""
    value = _text(_child(element, name))
    if not value:
        return None
    if value not in known:
        result.warnings.append(
            Problem.said(
                f"{path}.{name}",
                "enum",
                N_("'%(given)s' is not a DATEX II %(element)s value; it is left out"),
                N_("use one of: %(choices)s"),
                value=value[:200],
                given=value[:50],
                element=name,
                choices=", ".join(known),
            )
        )
        return None
    return value


def _language(raw: str | None, fallback: str, path: str, result: ParseResult) -> str:
    """A `lang` attribute, or `fallback` when absent or no language tag (a warning, then)."""
    value = (raw or "").strip()
    if not value:
        return fallback
    if len(value) > 35 or not _LANGUAGE_TAG.fullmatch(value):
        result.warnings.append(
            Problem.said(
                path,
                "language",
                N_("not a language tag; the texts are taken as '%(fallback)s'"),
                N_("write a BCP 47 language tag, e.g. fr, nl or en-GB"),
                value=value[:200],
                fallback=fallback,
            )
        )
        return fallback
    return value


def _check_points(location: ET.Element, path: str, result: ParseResult) -> None:
    """Warn about each coordinate that is no number or out of range (`_area` leaves it out)."""
    for where, element in _walk(location, path):
        name = _local(element)
        if name in ("pointCoordinates", "locationForDisplay"):
            lat, lon = _text(_child(element, "latitude")), _text(_child(element, "longitude"))
            if _point(lat, lon) is None:
                _bad_point(where, f"{lat} {lon}"[:200], result)
        elif name == "posList":
            numbers = _text(element).split()  # `_area` reads its first and last points
            ends = (numbers[0:2], numbers[-2:]) if len(numbers) >= 2 else ([], [])
            if any(len(pair) != 2 or _point(*pair) is None for pair in ends):
                _bad_point(where, _text(element)[:200], result)


def _bad_point(path: str, value: str, result: ParseResult) -> None:
    result.warnings.append(
        Problem.said(
            path,
            "coordinates",
            N_("not latitude and longitude numbers within range; these points are left out"),
            N_("write WGS 84 decimal degrees: latitude -90..90, longitude -180..180"),
            value=value,
        )
    )


def _walk(element: ET.Element, path: str) -> Iterator[tuple[str, ET.Element]]:
    """Every element under `element` with its path (name[i] where a name repeats)."""
    stack = [(path, element)]
    while stack:
        where, current = stack.pop()
        yield where, current
        children = [(_local(child), child) for child in current]
        counts = Counter(name for name, _ in children)
        seen: Counter[str] = Counter()
        steps = []
        for name, child in children:
            steps.append((f"{where}.{name}[{seen[name]}]" if counts[name] > 1 else f"{where}.{name}", child))
            seen[name] += 1
        stack += reversed(steps)
