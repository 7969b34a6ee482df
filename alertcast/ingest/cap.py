"""OASIS CAP 1.2 (and 1.1) XML in, `Incident` out, with every refusal named by its CAP path.

CAP is the format public bodies already speak, so this parser is strict where a mistake would
mislead citizens (missing or empty required fields, bad enum values, dates without offsets,
polygons that do not close) and lenient where a real publisher only broke the schema's form
(element order, non-CAP elements, odd casing): those become warnings, never silent drops.

The XML helpers at the top (`parse_xml_safely`, `parse_xml_datetime`, `load_category_table`)
are shared with the DATEX II and feed parsers: CAP was the first XML format here.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

import defusedxml.ElementTree as SafeET
import yaml
from defusedxml import DefusedXmlException
from pydantic import ValidationError

from alertcast.i18n import N_
from alertcast.ingest.result import ParseResult
from alertcast.models.incident import (
    Area,
    CapCategory,
    Category,
    Certainty,
    Circle,
    Geocode,
    Incident,
    Info,
    MsgType,
    Point,
    Reference,
    Scope,
    Severity,
    Status,
    Urgency,
)
from alertcast.models.problem import Problem, problems_from_validation

FORMAT = "cap"
CAP_NAMESPACES = {
    "urn:oasis:names:tc:emergency:cap:1.2": "1.2",
    "urn:oasis:names:tc:emergency:cap:1.1": "1.1",
}
XMLDSIG_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"
DEFAULT_LANGUAGE = "en-US"  # CAP 1.2 §3.2.2: a missing <language> means en-US
MAX_DOCUMENT_BYTES = 5_000_000

_DATE_HINT = N_("write an ISO 8601 date-time with a UTC offset, e.g. 2026-12-01T07:30:00+01:00")


# --- safe XML, shared by every XML intake format ------------------------------------------


def parse_xml_safely(data: bytes | str, what: str) -> tuple[ET.Element | None, list[Problem]]:
    """Parse untrusted XML with no DTD, no entities and no external fetch of any kind.

    Any DOCTYPE is refused outright: no intake format needs one, and refusing it is what
    stops XXE and billion-laughs documents before a single entity is looked at.
    """
    if isinstance(data, str):
        data = _reencode(data)
    if len(data) > MAX_DOCUMENT_BYTES:
        return None, [
            Problem.said(
                "",
                "document_too_large",
                N_("the %(format)s document is %(size)s bytes, more than %(most)s"),
                N_("split it, or send one message per document"),
                value=len(data),
                format=what,
                size=len(data),
                most=MAX_DOCUMENT_BYTES,
            )
        ]
    if not data.strip():
        return None, [
            Problem.said("", "empty", N_("the %(format)s document is empty"), value="", format=what)
        ]
    try:
        root: ET.Element = SafeET.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as error:
        return None, [
            Problem.said(
                "",
                "xml_forbidden_construct",
                N_(
                    "the %(format)s document declares a DOCTYPE, entities or external references, "
                    "which intake refuses for safety"
                ),
                N_("remove the <!DOCTYPE ...> and any entity declarations; plain XML is enough"),
                value=_excerpt(str(error)),
                format=what,
            )
        ]
    except ET.ParseError as error:
        return None, [
            Problem.said(
                "",
                "xml_syntax",
                N_("the %(format)s document is not well-formed XML: %(error)s"),
                N_("check that every element is closed and the encoding declaration matches the bytes"),
                value=_excerpt(data),
                format=what,
                error=str(error),
            )
        ]
    except (ValueError, LookupError, RecursionError) as error:  # unknown encodings, absurd nesting
        return None, [
            Problem.said(
                "",
                "xml_syntax",
                N_("the %(format)s document cannot be read as XML: %(error)s"),
                N_("send UTF-8 or ISO-8859-1 XML"),
                value=_excerpt(data),
                format=what,
                error=str(error),
            )
        ]
    return root, []


def _reencode(text: str) -> bytes:
    """A str has no encoding left: drop the declared one so the bytes say what they are."""
    text = text.lstrip("\ufeff")
    match = re.match(r"\s*<\?xml[^>]*?\?>", text)
    if match:
        declaration = re.sub(r"""\s+encoding\s*=\s*(["'])[^"']*\1""", "", match.group(0))
        text = declaration + text[match.end() :]
    # A lone surrogate (from a JSON-decoded str) is kept as its bytes: the XML parser then
    # refuses them as it refuses any byte sequence that is no character, instead of crashing.
    return text.encode("utf-8", "surrogatepass")


def split_tag(tag: object) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree tag; comments and PIs have no name."""
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def element_text(element: ET.Element) -> str:
    return (element.text or "").strip()


def parse_xml_datetime(text: str) -> datetime:
    """An XML Schema dateTime with an offset (Z allowed); ValueError if none or invalid."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        raise ValueError("no UTC offset")
    return value


@cache
def load_category_table(section: str) -> Mapping[str, Any]:
    """One format's section of categories.yaml, read once from the installed package."""
    text = files("alertcast.ingest").joinpath("categories.yaml").read_text(encoding="utf-8")
    table = yaml.safe_load(text)
    return dict(table[section])


def _excerpt(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text[:200]


# --- the CAP structure ----------------------------------------------------------------------

UNBOUNDED = 10**9

# (element, minimum, maximum) in schema order, per CAP 1.2 §3.2.
_ALERT = (
    ("identifier", 1, 1),
    ("sender", 1, 1),
    ("sent", 1, 1),
    ("status", 1, 1),
    ("msgType", 1, 1),
    ("source", 0, 1),
    ("scope", 1, 1),
    ("restriction", 0, 1),
    ("addresses", 0, 1),
    ("code", 0, UNBOUNDED),
    ("note", 0, 1),
    ("references", 0, 1),
    ("incidents", 0, 1),
    ("info", 0, UNBOUNDED),
)
_INFO = (
    ("language", 0, 1),
    ("category", 1, UNBOUNDED),
    ("event", 1, 1),
    ("responseType", 0, UNBOUNDED),
    ("urgency", 1, 1),
    ("severity", 1, 1),
    ("certainty", 1, 1),
    ("audience", 0, 1),
    ("eventCode", 0, UNBOUNDED),
    ("effective", 0, 1),
    ("onset", 0, 1),
    ("expires", 0, 1),
    ("senderName", 0, 1),
    ("headline", 0, 1),
    ("description", 0, 1),
    ("instruction", 0, 1),
    ("web", 0, 1),
    ("contact", 0, 1),
    ("parameter", 0, UNBOUNDED),
    ("resource", 0, UNBOUNDED),
    ("area", 0, UNBOUNDED),
)
_AREA = (
    ("areaDesc", 1, 1),
    ("polygon", 0, UNBOUNDED),
    ("circle", 0, UNBOUNDED),
    ("geocode", 0, UNBOUNDED),
    ("altitude", 0, 1),
    ("ceiling", 0, 1),
)
_RESOURCE = (
    ("resourceDesc", 1, 1),
    ("mimeType", 0, 1),
    ("size", 0, 1),
    ("uri", 0, 1),
    ("derefUri", 0, 1),
    ("digest", 0, 1),
)
_PAIR = (("valueName", 1, 1), ("value", 1, 1))

_MODEL_TO_CAP = {
    "msg_type": "msgType",
    "sender_name": "senderName",
    "cap_categories": "category",
    "areas": "area",
    "area_desc": "areaDesc",
    "polygons": "polygon",
    "circles": "circle",
    "geocodes": "geocode",
    "value_name": "valueName",
}

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_PAIR_RE = re.compile(rf"^({_NUMBER}),({_NUMBER})$")


@dataclass
class _Block:
    """The children of one CAP element, checked against the schema's sequence."""

    path: str
    children: dict[str, list[ET.Element]] = field(default_factory=dict)

    def all(self, name: str) -> list[ET.Element]:
        return self.children.get(name, [])

    def first(self, name: str) -> ET.Element | None:
        found = self.children.get(name)
        return found[0] if found else None


class _CapReader:
    """One document's walk: collects problems (refusals) and warnings as it goes."""

    def __init__(self, namespace: str, source: str) -> None:
        self.namespace = namespace
        self.version = CAP_NAMESPACES[namespace]
        self.source = source
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    # -- reporting

    def problem(self, path: str, value: Any, rule: str, message: str, hint: str = "", **params: Any) -> None:
        """A refusal worded by msgids (`Problem.said`)."""
        self.problems.append(Problem.said(path, rule, message, hint, value=_short(value), **params))

    def warn(self, path: str, value: Any, rule: str, message: str, hint: str = "", **params: Any) -> None:
        self.warnings.append(Problem.said(path, rule, message, hint, value=_short(value), **params))

    # -- structure

    def block(
        self,
        element: ET.Element,
        path: str,
        schema: Sequence[tuple[str, int, int]],
        strict: bool = True,
    ) -> _Block:
        """Group children by name; report missing, repeated, unknown and misplaced ones.

        `strict=False` turns missing/repeated elements into warnings, for the parts of CAP
        that alertcast does not map (resources, parameters).
        """
        order = {name: index for index, (name, _, _) in enumerate(schema)}
        block = _Block(path=path)
        highest = -1
        highest_name = ""
        for child in element:
            namespace, local = split_tag(child.tag)
            if not local:
                continue
            if namespace != self.namespace:
                if namespace != XMLDSIG_NAMESPACE:  # XML-DSig signatures are ignored by design
                    self.warn(
                        f"{path}.{local}",
                        child.tag,
                        "foreign_element",
                        N_("<%(element)s> from namespace '%(namespace)s' is not CAP; it was ignored"),
                        N_("keep extensions in <parameter> elements"),
                        element=local,
                        namespace=namespace or "(none)",
                    )
                continue
            if local not in order:
                self.warn(
                    f"{path}.{local}",
                    _element_summary(child),
                    "unknown_element",
                    N_("<%(element)s> is not a CAP %(version)s element here; it was ignored"),
                    N_("allowed here: %(allowed)s"),
                    element=local,
                    version=self.version,
                    allowed=", ".join(order),
                )
                continue
            position = order[local]
            if position < highest:
                self.warn(
                    f"{path}.{local}",
                    element_text(child),
                    "element_order",
                    N_("<%(element)s> comes after <%(after)s>; CAP %(version)s puts it before"),
                    N_("order: %(order)s"),
                    element=local,
                    after=highest_name,
                    version=self.version,
                    order=", ".join(order),
                )
            elif position > highest:
                highest, highest_name = position, local
            block.children.setdefault(local, []).append(child)
        for name, minimum, maximum in schema:
            count = len(block.all(name))
            report = self.problem if strict else self.warn
            if count < minimum:
                report(
                    f"{path}.{name}",
                    None,
                    "required",
                    f"<{name}> is required in CAP {self.version} and missing",
                    f"add a <{name}> element",
                )
            elif count > maximum:
                report(
                    f"{path}.{name}[1]",
                    element_text(block.all(name)[1]),
                    "duplicate_element",
                    f"<{name}> may appear only once",
                    f"keep a single <{name}>",
                )
        return block

    def text(self, block: _Block, name: str, required: bool = False) -> str | None:
        """The stripped text of a child; an empty required element is a problem."""
        element = block.first(name)
        if element is None:
            return None
        value = element_text(element)
        if not value:
            if required:
                self.problem(
                    f"{block.path}.{name}",
                    "",
                    "empty",
                    N_("<%(element)s> is required and must not be empty"),
                    N_("give <%(element)s> a value"),
                    element=name,
                )
            return None
        return value

    def enum(self, block: _Block, name: str, allowed: Iterable[str]) -> str | None:
        value = self.text(block, name, required=True)
        if value is None:
            return None
        return self.enum_value(f"{block.path}.{name}", name, value, allowed)

    def enum_value(self, path: str, name: str, value: str, allowed: Iterable[str]) -> str | None:
        choices = list(allowed)
        if value in choices:
            return value
        for choice in choices:
            if choice.lower() == value.lower():
                self.warn(
                    path,
                    value,
                    "enum_case",
                    N_("<%(element)s> should be written '%(written)s'"),
                    element=name,
                    written=choice,
                )
                return choice
        self.problem(
            path,
            value,
            "enum",
            N_("'%(given)s' is not a CAP %(version)s <%(element)s> value"),
            N_("use one of: %(choices)s"),
            given=value,
            version=self.version,
            element=name,
            choices=", ".join(choices),
        )
        return None

    def time(self, block: _Block, name: str, required: bool = False) -> datetime | None:
        value = self.text(block, name, required=required)
        if value is None:
            return None
        return self.time_value(f"{block.path}.{name}", name, value)

    def time_value(self, path: str, name: str, value: str) -> datetime | None:
        try:
            parsed = parse_xml_datetime(value)
        except ValueError as error:
            self.problem(
                path,
                value,
                "datetime",
                N_("<%(element)s> is not a date-time with offset (%(error)s)"),
                _DATE_HINT,
                element=name,
                error=str(error),
            )
            return None
        if value.strip().endswith(("Z", "z")):
            self.warn(
                path,
                value,
                "time_zone_designator",
                N_("CAP forbids 'Z'; read as +00:00"),
                N_("write -00:00 or +00:00"),
            )
        return parsed

    # -- the alert

    def alert(self, root: ET.Element) -> Incident | None:
        alert = self.block(root, "alert", _ALERT)
        identifier = self.text(alert, "identifier", required=True)
        sender = self.text(alert, "sender", required=True)
        sent = self.time(alert, "sent", required=True)
        status = self.enum(alert, "status", (s.value for s in Status))
        msg_type = self.enum(alert, "msgType", (m.value for m in MsgType))
        scope = self.enum(alert, "scope", (s.value for s in Scope))
        references = self.references(alert)
        infos: list[tuple[int, Info]] = []
        for index, element in enumerate(alert.all("info")):
            info = self.info(element, f"alert.info[{index}]")
            if info is not None:
                infos.append((index, info))
        merged = self.merge_languages(infos)
        candidate: dict[str, Any] = {"source": self.source, "references": references, "info": merged}
        for key, value in (
            ("identifier", identifier),
            ("sender", sender),
            ("sent", sent),
            ("status", status),
            ("msg_type", msg_type),
            ("scope", scope),
        ):
            if value is not None:
                candidate[key] = value
        if identifier is None or sender is None or sent is None or len(infos) < len(alert.all("info")):
            return None  # already reported; validating the rest would only echo it
        try:
            return Incident.model_validate(candidate)
        except ValidationError as error:
            for problem in problems_from_validation(error):
                self.problems.append(_relocate(problem, "alert", _INCIDENT_RULE_PATHS))
            return None

    def references(self, alert: _Block) -> list[Reference]:
        element = alert.first("references")
        if element is None:
            return []
        path = "alert.references"
        text = element_text(element)
        if not text:
            self.warn(
                path,
                "",
                "empty_references",
                N_("<references> is empty; it was ignored"),
                N_("omit it, or list sender,identifier,sent"),
            )
            return []
        references: list[Reference] = []
        for index, token in enumerate(text.split()):
            parts = token.split(",")
            item_path = f"{path}[{index}]"
            if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
                self.problem(
                    item_path,
                    token,
                    "reference_syntax",
                    N_("a reference must be sender,identifier,sent"),
                    N_("separate references with spaces and their parts with commas"),
                )
                continue
            sent: datetime | None = None
            if len(parts) == 3:
                sent = self.time_value(item_path, "references", parts[2])
                if sent is None:
                    continue
            else:
                self.warn(
                    item_path,
                    token,
                    "reference_without_sent",
                    N_("this reference has no sent time"),
                    N_("write sender,identifier,sent"),
                )
            try:
                references.append(Reference(sender=parts[0], identifier=parts[1], sent=sent))
            except ValidationError as error:
                for problem in problems_from_validation(error):
                    self.problems.append(problem.model_copy(update={"path": item_path}))
        return references

    # -- one info block

    def info(self, element: ET.Element, path: str) -> Info | None:
        info = self.block(element, path, _INFO)
        language = self.text(info, "language") or DEFAULT_LANGUAGE
        cap_categories: list[CapCategory] = []
        for index, category in enumerate(info.all("category")):
            value = element_text(category)
            if not value:
                self.problem(
                    f"{path}.category[{index}]",
                    "",
                    "empty",
                    N_("<category> must not be empty"),
                    N_("e.g. Met, Transport, Infra"),
                )
                continue
            checked = self.enum_value(
                f"{path}.category[{index}]", "category", value, (c.value for c in CapCategory)
            )
            if checked is not None:
                cap_categories.append(CapCategory(checked))
        event = self.text(info, "event", required=True)
        urgency = self.enum(info, "urgency", (u.value for u in Urgency))
        severity = self.enum(info, "severity", (s.value for s in Severity))
        certainty = self.certainty(info)
        event_codes = self.pairs(info, "eventCode")
        for resource_index, resource in enumerate(info.all("resource")):
            self.resource(resource, f"{path}.resource[{resource_index}]")
        self.pairs(info, "parameter")
        areas: list[Area] = []
        for area_index, area_element in enumerate(info.all("area")):
            area = self.area(area_element, f"{path}.area[{area_index}]")
            if area is not None:
                areas.append(area)
        candidate: dict[str, Any] = {
            "language": language,
            "category": map_cap_category(cap_categories, event or "", [value for _, value in event_codes]),
            "cap_categories": cap_categories,
            "event": event,
            "headline": self.text(info, "headline") or event,
            "areas": areas,
        }
        optional = {
            "urgency": urgency,
            "severity": severity,
            "certainty": certainty,
            "sender_name": self.text(info, "senderName"),
            "description": self.text(info, "description"),
            "instruction": self.text(info, "instruction"),
            "web": self.text(info, "web"),
            "contact": self.text(info, "contact"),
            "effective": self.time(info, "effective"),
            "onset": self.time(info, "onset"),
            "expires": self.time(info, "expires"),
        }
        candidate.update({key: value for key, value in optional.items() if value is not None})
        if event is None:
            return None
        try:
            return Info.model_validate(candidate)
        except ValidationError as error:
            for problem in problems_from_validation(error):
                self.problems.append(_relocate(problem, path, {}))
            return None

    def certainty(self, info: _Block) -> str | None:
        if self.text(info, "certainty") == "Very Likely":  # CAP 1.0's value, deprecated since 1.1
            self.warn(
                f"{info.path}.certainty",
                "Very Likely",
                "deprecated_value",
                N_("read as Likely"),
                N_("write Likely"),
            )
            return Certainty.LIKELY.value
        return self.enum(info, "certainty", (c.value for c in Certainty))

    def pairs(self, info: _Block, name: str) -> list[tuple[str, str]]:
        """eventCode / parameter: (valueName, value); alertcast maps neither directly."""
        found = []
        for index, element in enumerate(info.all(name)):
            pair = self.block(element, f"{info.path}.{name}[{index}]", _PAIR, strict=False)
            value_name = self.text(pair, "valueName") or ""
            value = self.text(pair, "value") or ""
            found.append((value_name, value))
        return found

    def resource(self, element: ET.Element, path: str) -> None:
        """Resources are not mapped; check them only to tell the sender what looks wrong."""
        resource = self.block(element, path, _RESOURCE, strict=False)
        mime_type = self.text(resource, "mimeType")
        if mime_type is None and self.version == "1.2":
            self.warn(f"{path}.mimeType", None, "required", N_("<mimeType> is required in CAP 1.2 resources"))
        elif mime_type is not None and mime_type != mime_type.lower():
            self.warn(
                f"{path}.mimeType",
                mime_type,
                "mime_type_case",
                N_("MIME type '%(given)s' is not in the registered lower-case form"),
                N_("write '%(written)s'"),
                given=mime_type,
                written=mime_type.lower(),
            )

    def area(self, element: ET.Element, path: str) -> Area | None:
        area = self.block(element, path, _AREA)
        area_desc = self.text(area, "areaDesc", required=True)
        polygons = []
        for index, polygon in enumerate(area.all("polygon")):
            points = self.polygon(element_text(polygon), f"{path}.polygon[{index}]")
            if points is not None:
                polygons.append(points)
        circles = []
        for index, circle in enumerate(area.all("circle")):
            parsed = self.circle(element_text(circle), f"{path}.circle[{index}]")
            if parsed is not None:
                circles.append(parsed)
        geocodes = []
        for index, geocode in enumerate(area.all("geocode")):
            pair = self.block(geocode, f"{path}.geocode[{index}]", _PAIR)
            value_name = self.text(pair, "valueName", required=True)
            value = self.text(pair, "value", required=True)
            if value_name is not None and value is not None:
                geocodes.append(Geocode(value_name=value_name, value=value))
        if area_desc is None:
            return None
        try:
            return Area(area_desc=area_desc, polygons=polygons, circles=circles, geocodes=geocodes)
        except ValidationError as error:
            for problem in problems_from_validation(error):
                self.problems.append(_relocate(problem, path, {}))
            return None

    def point(self, token: str, path: str, what: str) -> Point | None:
        match = _PAIR_RE.match(token)
        if match is None:
            self.problem(
                path,
                token,
                f"{what}_syntax",
                N_("'%(token)s' is not a latitude,longitude pair"),
                N_("write points as lat,lon separated by single spaces, with no trailing commas"),
                token=token,
            )
            return None
        lat, lon = float(match.group(1)), float(match.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            self.problem(
                path,
                token,
                "coordinate_range",
                N_("'%(token)s' is outside -90..90 latitude or -180..180 longitude"),
                N_("CAP writes latitude first: lat,lon"),
                token=token,
            )
            return None
        return Point(lat=lat, lon=lon)

    def polygon(self, text: str, path: str) -> list[Point] | None:
        if not text:
            self.problem(
                path,
                "",
                "empty",
                N_("<polygon> is empty"),
                N_("remove it, or list at least 4 lat,lon points"),
            )
            return None
        points = [self.point(token, path, "polygon") for token in text.split()]
        valid = [point for point in points if point is not None]
        if len(valid) != len(points):
            return None
        if len(valid) < 4:
            self.problem(
                path,
                text,
                "polygon_too_few_points",
                N_("a polygon needs at least 4 points, this one has %(count)s"),
                count=len(valid),
            )
            return None
        if valid[0] != valid[-1]:
            self.problem(
                path,
                text,
                "polygon_not_closed",
                N_("the polygon does not end where it starts"),
                N_("repeat the first point (%(first)s) at the end"),
                first=text.split()[0],
            )
            return None
        return valid

    def circle(self, text: str, path: str) -> Circle | None:
        parts = text.split()
        if len(parts) != 2:
            self.problem(
                path, text, "circle_syntax", N_("a circle is 'lat,lon radius_km'"), N_("e.g. 48.85,2.35 1.5")
            )
            return None
        center = self.point(parts[0], path, "circle")
        try:
            radius = float(parts[1])
        except ValueError:
            self.problem(
                path,
                text,
                "circle_syntax",
                N_("radius '%(radius)s' is not a number"),
                N_("radius in km, e.g. 1.5"),
                radius=parts[1],
            )
            return None
        if radius < 0 or radius != radius:
            self.problem(
                path, text, "circle_radius", N_("the radius must be zero or positive"), N_("radius in km")
            )
            return None
        return Circle(center=center, radius_km=radius) if center is not None else None

    # -- several blocks in one language

    def merge_languages(self, infos: list[tuple[int, Info]]) -> list[Info]:
        """Fold info blocks that share a language into one, as the model has one per language.

        CAP allows several blocks per language (e.g. one per area); the first keeps its texts,
        the others add their areas and categories, and any other difference is reported.
        """
        merged: dict[str, Info] = {}
        for index, info in infos:
            key = info.language.lower()
            first = merged.get(key)
            if first is None:
                merged[key] = info
                continue
            path = f"alert.info[{index}]"
            differing = [
                name
                for name in (
                    "event",
                    "headline",
                    "description",
                    "instruction",
                    "urgency",
                    "severity",
                    "certainty",
                    "effective",
                    "onset",
                    "expires",
                    "web",
                    "contact",
                    "sender_name",
                )
                if getattr(info, name) != getattr(first, name)
            ]
            for name in differing:
                self.warn(
                    f"{path}.{_MODEL_TO_CAP.get(name, name)}",
                    _plain(getattr(info, name)),
                    "info_merge_conflict",
                    N_("a second %(language)s block differs in %(field)s; the first block's value is kept"),
                    N_("send one <info> per language, or the same texts in each"),
                    language=info.language,
                    field=name,
                )
            self.warn(
                path,
                info.language,
                "info_merged",
                N_("a second %(language)s info block was merged into the first (areas added)"),
                language=info.language,
            )
            categories = list(first.cap_categories) + [
                c for c in info.cap_categories if c not in first.cap_categories
            ]
            merged[key] = first.model_copy(
                update={"areas": _merge_areas([*first.areas, *info.areas]), "cap_categories": categories}
            )
        return list(merged.values())


def _merge_areas(areas: list[Area]) -> list[Area]:
    """Areas with the same description and shapes become one, with their geocodes united."""
    result: list[Area] = []
    for area in areas:
        for index, kept in enumerate(result):
            if (kept.area_desc, kept.polygons, kept.circles) == (area.area_desc, area.polygons, area.circles):
                geocodes = list(kept.geocodes) + [g for g in area.geocodes if g not in kept.geocodes]
                result[index] = kept.model_copy(update={"geocodes": geocodes})
                break
        else:
            result.append(area)
    return result


_INCIDENT_RULE_PATHS = {
    "info_required": "info",
    "references_required": "references",
    "duplicate_language": "info",
}


def _relocate(problem: Problem, base: str, rule_paths: Mapping[str, str]) -> Problem:
    """A pydantic location (info.0.areas.1) as a CAP path (alert.info[0].area[1])."""
    path = base
    parts = [part for part in problem.path.split(".") if part]
    if not parts and problem.rule in rule_paths:
        parts = [rule_paths[problem.rule]]
    for part in parts:
        if part.isdigit():
            path += f"[{part}]"
        else:
            path += "." + _MODEL_TO_CAP.get(part, part)
    return problem.model_copy(update={"path": path})


def _element_summary(element: ET.Element) -> str:
    text = " ".join(" ".join(element.itertext()).split())
    return text[:200]


def _short(value: Any) -> Any:
    if isinstance(value, str):
        return value[:200]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return (
        _short(str(value))
        if value is not None and not isinstance(value, str | int | float)
        else _short(value)
    )


# --- categories -------------------------------------------------------------------------------


def map_cap_category(
    cap_categories: Sequence[CapCategory], event: str, event_codes: Sequence[str]
) -> Category:
    """alertcast's category for one info block: event codes, then event words, then CAP's categories."""
    table = load_category_table("cap")
    codes = {code.lower() for code in event_codes if code}
    for category, values in table.get("event_codes", {}).items():
        if codes & {str(value).lower() for value in values}:
            return Category(category)
    lowered = event.lower()
    for category, words in table.get("event_words", {}).items():
        for word in words:
            if re.search(rf"(?<!\w){re.escape(str(word).lower())}(?!\w)", lowered):
                return Category(category)
    by_cap = table.get("cap_categories", {})
    for cap_category in cap_categories:
        if cap_category.value in by_cap:
            return Category(by_cap[cap_category.value])
    return Category(table.get("default", "other"))


# --- entry point ------------------------------------------------------------------------------


def parse_cap(data: bytes | str, source: str = "kafka") -> ParseResult:
    """Parse one CAP <alert>; an invalid document gives every problem found, and no incident."""
    result = ParseResult(format=FORMAT)
    root, problems = parse_xml_safely(data, "CAP")
    if root is None:
        result.problems.extend(problems)
        return result
    namespace, local = split_tag(root.tag)
    if local != "alert" or namespace not in CAP_NAMESPACES:
        result.problems.append(
            Problem.said(
                local or "",
                "namespace" if local == "alert" else "root_element",
                N_("the root element is <%(element)s> in namespace '%(namespace)s', not a CAP <alert>"),
                N_('use <alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"> (or CAP 1.1\'s namespace)'),
                value=f"{{{namespace}}}{local}" if namespace else local,
                element=local,
                namespace=namespace or "(none)",
            )
        )
        return result
    reader = _CapReader(namespace, source)
    incident = reader.alert(root)
    result.problems.extend(_unique(reader.problems))
    result.warnings.extend(_unique(reader.warnings))
    if incident is not None and not result.problems:
        result.incidents.append(incident)
    return result


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for problem in problems:
        key = (problem.path, problem.rule)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique
