"""The CAP 1.2 feed (`cap.xml`): an Atom feed with one entry per CAP message.

This is the form CAP aggregators poll (the index-feed pattern of national alert hubs):
each entry links a standalone CAP document (`cap/<alert_id>-v<n>.xml`) and also carries it
inline as `application/cap+xml` content (RFC 4287 §4.1.3.3), so one fetch gives a reader
every message. Every version is an entry: an aggregator that missed the Alert still gets it
beside the Update or Cancel that references it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

from lxml import etree

from alertcast.site.atom_feed import (
    XML_LANG,
    atom_sub,
    atom_time,
    new_feed,
    site_url,
    urn,
)
from alertcast.site.cap_writer import CAP_MEDIA_TYPE, CAP_NS, xml_bytes
from alertcast.site.labels import labels, word
from alertcast.site.views import AlertView, cap_path

CapDocuments = Mapping[tuple[str, int], etree._Element]


def cap_feed(
    views: Sequence[AlertView],
    documents: CapDocuments,
    *,
    now: datetime,
    tz: tzinfo,
    language: str,
    base_url: str = "",
) -> bytes:
    """`documents` maps (alert id, version) to its CAP `<alert>`, as written to `cap/`."""
    t = labels(language)
    versions = sorted(
        ((view, version) for view in views for version in view.source.versions),
        key=lambda pair: (pair[1].incident.sent, pair[0].alert_id, pair[1].version),
        reverse=True,
    )
    feed = new_feed(
        feed_id=urn(base_url, "cap.xml"),
        title=f"{t['site_title']} – {t['cap']}",
        self_href=site_url(base_url, "cap.xml"),
        updated=versions[0][1].incident.sent if versions else now,
        tz=tz,
        language=language,
        author=t["site_title"],
    )
    for view, version in versions:
        incident = version.incident
        info = incident.info_for(language) or incident.main_info
        entry = atom_sub(feed, "entry")
        if info is not None:
            entry.set(XML_LANG, info.language)
        atom_sub(entry, "id", urn("cap", view.alert_id, str(version.version)))
        title = info.headline if info else f"{word(incident.msg_type, language)} : {view.headline}"
        atom_sub(entry, "title", title)
        atom_sub(entry, "updated", atom_time(incident.sent, tz))
        atom_sub(atom_sub(entry, "author"), "name", (info.sender_name if info else None) or incident.sender)
        href = site_url(base_url, cap_path(view.alert_id, version.version))
        atom_sub(entry, "link", rel="alternate", type=CAP_MEDIA_TYPE, href=href)
        atom_sub(entry, "link", rel="related", type="text/html", href=site_url(base_url, view.path))
        atom_sub(entry, "category", term=incident.msg_type.value, scheme=CAP_NS)
        content = atom_sub(entry, "content", type=CAP_MEDIA_TYPE)
        content.append(copy.deepcopy(documents[(view.alert_id, version.version)]))
    return xml_bytes(feed)
