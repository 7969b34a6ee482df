"""CAP index feeds (Atom 1.0, RSS 2.0): the list of CAP documents a poller should fetch.

An index is not an incident: its entries only point to CAP documents, and the CAP-like
extension elements some indexes carry (cap:event, cap:areaDesc...) are summaries that may
lag the document. So this module returns entries (id, updated, link) and nothing else;
the poller fetches each link and hands the bytes to `detect.parse_document`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

from pydantic import BaseModel, Field

from alertcast.i18n import N_, term
from alertcast.ingest.cap import element_text, parse_xml_datetime, parse_xml_safely, split_tag
from alertcast.models.incident import UtcDateTime
from alertcast.models.problem import Problem

ATOM = "http://www.w3.org/2005/Atom"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
CAP_MEDIA_TYPES = ("application/cap+xml", "application/common-alerting-protocol+xml")


class FeedEntry(BaseModel):
    """One CAP document listed by an index; `updated` tells a poller whether to fetch it again."""

    id: str = Field(min_length=1)
    updated: UtcDateTime | None = None
    link: str = Field(min_length=1, description="URL of the CAP document")


class Feed(BaseModel):
    format: str
    entries: list[FeedEntry] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)
    warnings: list[Problem] = Field(default_factory=list)


def parse_feed(data: bytes | str, base_url: str = "") -> Feed:
    """Entries of an Atom or RSS index; relative links resolve against xml:base or `base_url`."""
    root, problems = parse_xml_safely(data, "feed")
    if root is None:
        return Feed(format="unknown", problems=problems)
    namespace, local = split_tag(root.tag)
    if (namespace, local) == (ATOM, "feed"):
        return _atom(root, base_url)
    if local == "rss":
        return _rss(root, base_url)
    return Feed(
        format="unknown",
        problems=[
            Problem.said(
                local,
                "unknown_format",
                N_("<%(element)s> is neither an Atom <feed> nor an RSS <rss> document"),
                N_("give the URL of the CAP index (Atom 1.0 or RSS 2.0)"),
                value=f"{{{namespace}}}{local}" if namespace else local,
                element=local,
            )
        ],
    )


def _atom(root: ET.Element, base_url: str) -> Feed:
    feed = Feed(format="atom")
    base = urljoin(base_url, root.get(XML_BASE) or "")
    for index, entry in enumerate(root.findall(f"{{{ATOM}}}entry")):
        path = f"feed.entry[{index}]"
        entry_base = urljoin(base, entry.get(XML_BASE) or "")
        entry_id = _text(entry.find(f"{{{ATOM}}}id"))
        link = _atom_link(entry, entry_base)
        updated_element = entry.find(f"{{{ATOM}}}updated")
        if updated_element is None:
            updated_element = entry.find(f"{{{ATOM}}}published")
        updated = _iso_time(updated_element, f"{path}.updated", feed)
        _add(feed, path, entry_id or link, updated, link)
    return feed


def _atom_link(entry: ET.Element, base: str) -> str:
    """The CAP link: typed as CAP first, then the alternate (or untyped rel) link, then any."""
    links = [
        (link.get("rel") or "alternate", (link.get("type") or "").lower(), link.get("href") or "")
        for link in entry.findall(f"{{{ATOM}}}link")
    ]
    links = [link for link in links if link[2].strip()]
    for _, media_type, href in links:
        if media_type in CAP_MEDIA_TYPES:
            return urljoin(base, href.strip())
    for rel, _, href in links:
        if rel == "alternate":
            return urljoin(base, href.strip())
    return urljoin(base, links[0][2].strip()) if links else ""


def _rss(root: ET.Element, base_url: str) -> Feed:
    feed = Feed(format="rss")
    channel = root.find("channel")
    items = channel.findall("item") if channel is not None else []
    for index, item in enumerate(items):
        path = f"rss.channel.item[{index}]"
        link = _text(item.find("link"))
        enclosure = item.find("enclosure")
        if enclosure is not None and (enclosure.get("type") or "").lower() in CAP_MEDIA_TYPES:
            link = enclosure.get("url") or link
        guid = _text(item.find("guid"))
        updated = None
        pub_date = item.find("pubDate")
        if pub_date is not None and _text(pub_date):
            try:
                updated = parsedate_to_datetime(_text(pub_date))
            except (TypeError, ValueError, IndexError):
                _bad_time(
                    feed,
                    f"{path}.pubDate",
                    _text(pub_date),
                    N_("an RFC 822 date, e.g. Fri, 04 Feb 2011 20:20:00 GMT"),
                )
            if updated is not None and updated.tzinfo is None:
                updated = None
                _bad_time(feed, f"{path}.pubDate", _text(pub_date), N_("a date with a time zone"))
        _add(feed, path, guid or link, updated, urljoin(base_url, link) if link else "")
    return feed


def _add(feed: Feed, path: str, entry_id: str, updated: datetime | None, link: str) -> None:
    if not link:
        feed.warnings.append(
            Problem.said(
                path,
                "entry_without_link",
                N_("this entry has no link to a CAP document; it was skipped"),
                N_("give each entry a link (Atom) or link/enclosure (RSS) to its CAP message"),
                value=entry_id[:200],
            )
        )
        return
    feed.entries.append(FeedEntry(id=entry_id or link, updated=updated, link=link))


def _iso_time(element: ET.Element | None, path: str, feed: Feed) -> datetime | None:
    if element is None or not _text(element):
        return None
    try:
        return parse_xml_datetime(_text(element))
    except ValueError:
        _bad_time(feed, path, _text(element), N_("an RFC 3339 date-time, e.g. 2018-11-21T12:52:06+01:00"))
        return None


def _bad_time(feed: Feed, path: str, value: str, expected: str) -> None:
    """`expected` is a msgid (what the value should have been)."""
    feed.warnings.append(
        Problem.said(
            path,
            "datetime",
            N_("'%(given)s' is not %(expected)s; the entry is kept without a time"),
            N_("the poller will then fetch it every time"),
            value=value[:200],
            given=value[:60],
            expected=term(expected),
        )
    )


def _text(element: ET.Element | None) -> str:
    return element_text(element) if element is not None else ""
