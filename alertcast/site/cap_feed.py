"""The CAP index (`cap.xml`): an Atom feed with one entry per alert, linking its latest CAP message.

This is the form CAP aggregators poll (Google Public Alerts, national alert hubs): an index
whose entries each link one standalone CAP document (`cap/<alert_id>-v<n>.xml`), which the
aggregator fetches when the entry is new to it. The documents used to be embedded too, so the
feed grew with the storm (3.5 MB at 1,000 alerts) and was downloaded again on every poll; an
index stays a few hundred bytes per alert.

An entry's id is the message's (alert and version): an Update or a Cancel is a new entry, which
is what tells an aggregator to fetch again. The index lists what the site lists (current alerts
and those ended within the kept window), so an aggregator sees the Cancel before the alert goes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo

from alertcast.site.atom_feed import (
    XML_LANG,
    atom_sub,
    atom_time,
    entry_bytes,
    entry_parent,
    feed_document,
    new_feed,
    site_url,
    urn,
)
from alertcast.site.cap_writer import CAP_MEDIA_TYPE, CAP_NS
from alertcast.site.labels import labels, word
from alertcast.site.views import AlertView, cap_path


def cap_entry(view: AlertView, *, tz: tzinfo, language: str, base_url: str = "") -> bytes:
    """The entry for the alert's latest message, linking its CAP document and its page."""
    version = view.source.versions[-1]
    incident = version.incident
    info = incident.info_for(language) or incident.main_info
    parent = entry_parent()
    entry = atom_sub(parent, "entry")
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
    return entry_bytes(parent)


def cap_feed(
    views: Sequence[AlertView],
    *,
    now: datetime,
    tz: tzinfo,
    language: str,
    base_url: str = "",
    entry: Callable[[AlertView], bytes] | None = None,
) -> bytes:
    """The index of `views`, latest message first; `entry` gives an alert's kept entry
    (`cap_entry` of it with the same settings), drawn afresh when not given."""
    t = labels(language)
    ordered = sorted(views, key=lambda v: (v.source.latest.sent, v.alert_id), reverse=True)
    feed = new_feed(
        feed_id=urn(base_url, "cap.xml"),
        title=f"{t['site_title']} – {t['cap']}",
        self_href=site_url(base_url, "cap.xml"),
        updated=ordered[0].source.latest.sent if ordered else now,
        tz=tz,
        language=language,
        author=t["site_title"],
    )
    draw = entry or (lambda view: cap_entry(view, tz=tz, language=language, base_url=base_url))
    return feed_document(feed, [draw(view) for view in ordered])
