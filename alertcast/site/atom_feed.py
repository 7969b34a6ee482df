"""The public Atom 1.0 feed (`feed.atom`): one entry per alert, updated with its latest version.

Aggregators and feed readers key entries on `id`, so ids are `urn:uuid` derived from the
alert id alone: they survive a change of domain (`base_url`) and never duplicate an alert.
The feed's own `updated` is its newest entry's, not the build time, so an unchanged feed is
byte-identical and caches keep it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, tzinfo

from lxml import etree

from alertcast.site.cap_writer import CAP_MEDIA_TYPE, xml_bytes
from alertcast.site.labels import labels
from alertcast.site.safe_text import xml_safe
from alertcast.site.views import AlertView, cap_path

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
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


def atom_feed(
    views: Sequence[AlertView], *, now: datetime, tz: tzinfo, language: str, base_url: str = ""
) -> bytes:
    """The alerts feed, most recently changed first."""
    ordered = sorted(views, key=lambda v: (entry_updated(v), v.alert_id), reverse=True)
    t = labels(language)
    feed = new_feed(
        feed_id=urn(base_url, "feed.atom"),
        title=t["site_title"],
        self_href=site_url(base_url, "feed.atom"),
        updated=entry_updated(ordered[0]) if ordered else now,
        tz=tz,
        language=language,
        author=t["site_title"],
    )
    for view in ordered:
        entry = atom_sub(feed, "entry")
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
    return xml_bytes(feed)
