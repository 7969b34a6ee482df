"""The public Atom 1.0 feed (`feed.atom`): one entry per alert, updated with its latest version.

Aggregators and feed readers key entries on `id`, so ids are `urn:uuid` derived from the
alert id alone: they survive a change of domain (`base_url`) and never duplicate an alert.
The feed's own `updated` is its newest entry's, not the build time, so an unchanged feed is
byte-identical and caches keep it.

Entries are serialized one by one (`atom_entry`) and spliced into the feed (`feed_document`)
with the very bytes a whole-tree serialization gives: the site builder keeps each alert's
entry until the alert changes, so a publish in a storm does not draw a thousand entries again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo

from lxml import etree

from alertcast.site.cap_writer import CAP_MEDIA_TYPE, xml_bytes
from alertcast.site.labels import labels
from alertcast.site.safe_text import xml_safe
from alertcast.site.views import AlertView, cap_path

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
ATOM_MEDIA_TYPE = "application/atom+xml"


def site_url(base_url: str, path: str) -> str:
    """An absolute URL when the site knows its address, else a path relative to the root."""
    if not base_url:
        return path
    return base_url.rstrip("/") + "/" + path


def urn(*parts: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, "alertcast:" + ":".join(parts)).urn


def atom_time(value: datetime, tz: tzinfo) -> str:
    return value.astimezone(tz).replace(microsecond=0).isoformat()


def atom_sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: xml_safe(v) for k, v in attributes.items()})
    if text is not None:
        element.text = xml_safe(text)
    return element


def new_feed(
    *, feed_id: str, title: str, self_href: str, updated: datetime, tz: tzinfo, language: str, author: str
) -> etree._Element:
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})  # type: ignore[dict-item]  # lxml-stubs omit the default namespace
    feed.set(XML_LANG, language)
    atom_sub(feed, "id", feed_id)
    atom_sub(feed, "title", title)
    atom_sub(feed, "updated", atom_time(updated, tz))
    atom_sub(feed, "link", rel="self", type=ATOM_MEDIA_TYPE, href=self_href)
    atom_sub(atom_sub(feed, "author"), "name", author)
    return feed


def entry_parent() -> etree._Element:
    """A bare feed to build one entry in, so the entry needs no namespace declaration of its own."""
    return etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})  # type: ignore[dict-item]  # lxml-stubs omit the default namespace


def entry_bytes(parent: etree._Element) -> bytes:
    """The entry built in `parent`, exactly as it is written inside a feed (same depth, so the
    same indentation): from after the bare feed's start tag to its end tag."""
    text = etree.tostring(parent, xml_declaration=False, encoding="UTF-8", pretty_print=True)
    return text[text.index(b"\n") + 1 : text.rindex(b"</feed>")]


def feed_document(feed: etree._Element, entries: Sequence[bytes]) -> bytes:
    """`feed` (its head: id, title...) as a document, with `entries` put before its end tag."""
    head = xml_bytes(feed)
    end = b"</feed>\n"
    if not head.endswith(end):
        raise ValueError("a feed head must have children, so that its end tag is on its own line")
    return head[: -len(end)] + b"".join(entries) + end


def entry_updated(view: AlertView) -> datetime:
    """An end is news: a feed reader must see the entry change when the alert ends."""
    return max(view.updated_at, view.ended_at) if view.ended_at else view.updated_at


def _summary(view: AlertView, language: str) -> str:
    t = labels(language)
    lines = [f"{t['severity']} : {view.severity_word}."]
    if view.areas:
        lines.append(f"{t['areas']} : {view.area_text}.")
    if view.ended and view.ended_time and view.end_text:
        lines.append(f"{view.end_text} ({view.ended_time.text}).")
    if view.info is not None:
        lines += [text for text in (view.info.description, view.info.instruction) if text]
    return "\n".join(lines)


def _title(view: AlertView, language: str) -> str:
    prefix = ""
    if view.status:
        prefix += f"{view.status} – "
    if view.ended:
        prefix += f"{labels(language)['ended']} : "
    return prefix + view.headline


def atom_entry(view: AlertView, *, tz: tzinfo, language: str, base_url: str = "") -> bytes:
    parent = entry_parent()
    entry = atom_sub(parent, "entry")
    entry.set(XML_LANG, view.headline_lang)
    atom_sub(entry, "id", urn("alert", view.alert_id))
    atom_sub(entry, "title", _title(view, language))
    atom_sub(entry, "updated", atom_time(entry_updated(view), tz))
    atom_sub(entry, "published", atom_time(view.source.versions[0].incident.sent, tz))
    sender = (view.info.sender_name if view.info else None) or view.source.latest.sender
    atom_sub(atom_sub(entry, "author"), "name", sender)
    atom_sub(entry, "link", rel="alternate", type="text/html", href=site_url(base_url, view.path))
    atom_sub(
        entry,
        "link",
        rel="related",
        type=CAP_MEDIA_TYPE,
        href=site_url(base_url, cap_path(view.alert_id, view.latest_version)),
    )
    if view.info is not None:
        atom_sub(entry, "category", term=view.info.category.value)
    atom_sub(entry, "category", term=f"severity:{view.severity.value}", label=view.severity_word)
    atom_sub(entry, "summary", _summary(view, language), type="text")
    return entry_bytes(parent)


def atom_feed(
    views: Sequence[AlertView],
    *,
    now: datetime,
    tz: tzinfo,
    language: str,
    base_url: str = "",
    entry: Callable[[AlertView], bytes] | None = None,
    path: str = "feed.atom",
    area: str = "",
) -> bytes:
    """The alerts feed, most recently changed first; `entry` gives an alert's kept entry
    (`atom_entry` of it with the same settings), drawn afresh when not given. `path` and `area`
    make an area's feed (`areas/62041.atom`: the alerts of one commune, titled with its name)."""
    ordered = sorted(views, key=lambda v: (entry_updated(v), v.alert_id), reverse=True)
    t = labels(language)
    feed = new_feed(
        feed_id=urn(base_url, path),
        title=f"{t['site_title']} – {area}" if area else t["site_title"],
        self_href=site_url(base_url, path),
        updated=entry_updated(ordered[0]) if ordered else now,
        tz=tz,
        language=language,
        author=t["site_title"],
    )
    if not base_url and "/" in path:  # entries link from the site's root: say where it is
        feed.set(XML_BASE, "../" * path.count("/"))
    draw = entry or (lambda view: atom_entry(view, tz=tz, language=language, base_url=base_url))
    return feed_document(feed, [draw(view) for view in ordered])
