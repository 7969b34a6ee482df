"""Incident -> CAP 1.2 XML: the inverse of intake, so aggregators get what sources send us.

Every document must validate against the official OASIS schema, which is stricter than the
model in a few places; this module is where those gaps are closed:
- times carry a numeric offset and no fraction (`Z` and microseconds are refused; UTC is
  written `-00:00`, as CAP 1.2 §3.3.2 asks);
- elements come in the schema's order;
- an `info` needs at least one CAP category, so alertcast's own category is mapped when the
  source gave none;
- a Cancel without info is a valid CAP document and stays one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from urllib.parse import quote
from zoneinfo import ZoneInfo

from lxml import etree

from alertcast.models.incident import (
    Area,
    CapCategory,
    Category,
    Incident,
    Info,
    MsgType,
    Reference,
    Scope,
)
from alertcast.site.safe_text import xml_safe

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MEDIA_TYPE = "application/cap+xml"
DEFAULT_TIMEZONE = "Europe/Paris"

# CAP 1.2 §3.2.2 puts floods under Met ("Meteorological (inc. flood)"); heat waves are
# both weather and a health risk; a strike or a public service closure has no better
# CAP category than Other.
CATEGORY_TO_CAP: dict[Category, tuple[CapCategory, ...]] = {
    Category.ROAD_CLOSURE: (CapCategory.TRANSPORT,),
    Category.TRAFFIC: (CapCategory.TRANSPORT,),
    Category.TRANSPORT_DISRUPTION: (CapCategory.TRANSPORT,),
    Category.SCHOOL_TRANSPORT: (CapCategory.TRANSPORT,),
    Category.STRIKE: (CapCategory.OTHER,),
    Category.WEATHER: (CapCategory.MET,),
    Category.FLOOD: (CapCategory.MET,),
    Category.HEAT: (CapCategory.MET, CapCategory.HEALTH),
    Category.PUBLIC_SERVICE: (CapCategory.OTHER,),
    Category.WATER: (CapCategory.INFRA,),
    Category.OTHER: (CapCategory.OTHER,),
}

# Characters an xs:anyURI may hold as they are; anything else (spaces, quotes) is
# percent-encoded so a sloppy source URL cannot make the document invalid.
_URI_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


def resolve_timezone(tz: tzinfo | str) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def cap_time(value: datetime, tz: tzinfo | str = DEFAULT_TIMEZONE) -> str:
    """A CAP dateTime: local time with its offset, whole seconds, `-00:00` for UTC."""
    local = value.astimezone(resolve_timezone(tz)).replace(microsecond=0)
    text = local.isoformat()
    if text.endswith("+00:00"):
        text = text[: -len("+00:00")] + "-00:00"
    return text


def cap_categories(info: Info) -> list[CapCategory]:
    """The source's CAP categories, else those of alertcast's category (CAP requires one)."""
    return list(info.cap_categories) or list(CATEGORY_TO_CAP[info.category])


def _coordinate(value: float) -> str:
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = f"{value:.10f}".rstrip("0").rstrip(".")
    return text


def _point(lat: float, lon: float) -> str:
    return f"{_coordinate(lat)},{_coordinate(lon)}"


def reference_triples(
    incident: Incident, earlier: Sequence[Incident] = (), tz: tzinfo | str = DEFAULT_TIMEZONE
) -> list[str]:
    """`sender,identifier,sent` for each message this one follows.

    An Update or Cancel should name every earlier version, not only the one its source
    named, so a reader who missed a version still links the chain; `earlier` supplies those
    versions and the `sent` times a source left out of its references.
    """
    sent_by_key = {(e.sender, e.identifier): e.sent for e in earlier}
    wanted: list[Reference] = list(incident.references)
    if incident.msg_type in (MsgType.UPDATE, MsgType.CANCEL):
        wanted += [Reference(sender=e.sender, identifier=e.identifier, sent=e.sent) for e in earlier]
    triples: list[str] = []
    seen: set[tuple[str, str]] = set()
    for ref in wanted:
        key = (ref.sender, ref.identifier)
        if key in seen or key == (incident.sender, incident.identifier):
            continue
        seen.add(key)
        sent = ref.sent or sent_by_key.get(key)
        # Without its sent time the triple is incomplete, but naming the message still
        # lets a reader find it; dropping it would hide that this one replaces something.
        triples.append(f"{key[0]},{key[1]},{cap_time(sent, tz)}" if sent else f"{key[0]},{key[1]}")
    return triples


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        element.text = xml_safe(text)
    return element


def _area(parent: etree._Element, area: Area) -> None:
    element = _sub(parent, "area")
    _sub(element, "areaDesc", area.area_desc)
    for polygon in area.polygons:
        _sub(element, "polygon", " ".join(_point(p.lat, p.lon) for p in polygon))
    for circle in area.circles:
        center = circle.center
        _sub(element, "circle", f"{_point(center.lat, center.lon)} {_coordinate(circle.radius_km)}")
    for geocode in area.geocodes:
        code = _sub(element, "geocode")
        _sub(code, "valueName", geocode.value_name)
        _sub(code, "value", geocode.value)


def _optional(parent: etree._Element, tag: str, text: str | None) -> None:
    if text:
        _sub(parent, tag, text)


def _info(parent: etree._Element, info: Info, tz: tzinfo) -> None:
    element = _sub(parent, "info")
    _sub(element, "language", info.language.replace("_", "-"))  # xs:language: 'fr_FR' is refused
    for category in cap_categories(info):
        _sub(element, "category", category.value)
    _sub(element, "event", info.event)
    _sub(element, "urgency", info.urgency.value)
    _sub(element, "severity", info.severity.value)
    _sub(element, "certainty", info.certainty.value)
    for tag, when in (("effective", info.effective), ("onset", info.onset), ("expires", info.expires)):
        if when is not None:
            _sub(element, tag, cap_time(when, tz))
    _optional(element, "senderName", info.sender_name)
    _sub(element, "headline", info.headline)
    _optional(element, "description", info.description)
    _optional(element, "instruction", info.instruction)
    _optional(element, "web", quote(info.web.strip(), safe=_URI_SAFE) if info.web else None)
    _optional(element, "contact", info.contact)
    for area in info.areas:
        _area(element, area)


def cap_alert(
    incident: Incident,
    *,
    earlier: Sequence[Incident] = (),
    tz: tzinfo | str = DEFAULT_TIMEZONE,
    restriction: str = "Diffusion restreinte",
    addresses: str = "",
) -> etree._Element:
    """The CAP `<alert>` element of one incident version.

    `earlier` are the alert's previous versions (oldest first), used to complete the
    references. The intake source name is internal (an API key name) and is not written
    to CAP `<source>`. CAP asks a Restricted message for a `<restriction>` and a Private one
    for `<addresses>`, which the model does not keep: the caller may supply them.
    """
    zone = resolve_timezone(tz)
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})  # type: ignore[dict-item]  # lxml-stubs omit the default namespace
    _sub(root, "identifier", incident.identifier)
    _sub(root, "sender", incident.sender)
    _sub(root, "sent", cap_time(incident.sent, zone))
    _sub(root, "status", incident.status.value)
    _sub(root, "msgType", incident.msg_type.value)
    _sub(root, "scope", incident.scope.value)
    if incident.scope is Scope.RESTRICTED:
        _sub(root, "restriction", restriction)
    if incident.scope is Scope.PRIVATE and addresses:
        _sub(root, "addresses", addresses)
    triples = reference_triples(incident, earlier, zone)
    if triples:
        _sub(root, "references", " ".join(triples))
    for info in incident.info:
        _info(root, info, zone)
    return root


def cap_document(
    incident: Incident, *, earlier: Sequence[Incident] = (), tz: tzinfo | str = DEFAULT_TIMEZONE
) -> bytes:
    """A standalone CAP 1.2 document (UTF-8, with its XML declaration)."""
    return xml_bytes(cap_alert(incident, earlier=earlier, tz=tz))


def xml_bytes(element: etree._Element) -> bytes:
    """A standalone XML document, as every file of the site is written."""
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def cap_documents(
    versions: Iterable[Incident], *, tz: tzinfo | str = DEFAULT_TIMEZONE
) -> list[etree._Element]:
    """One `<alert>` per version of one alert, each referencing all the ones before it."""
    elements: list[etree._Element] = []
    seen: list[Incident] = []
    for incident in versions:
        elements.append(cap_alert(incident, earlier=seen, tz=tz))
        seen.append(incident)
    return elements
