"""Coherent times: an alert must not end before it starts, nor be over when it is sent.

Times come from people and feeds in a hurry (a wrong day, a UTC/local slip). Expiry before
onset, or an alert already expired, would be published wrong: block. An onset in the past is
normal for an observed event ("fermée depuis 7 h"), so beyond a grace period it only warns:
the communicator checks the date. "Now" is `alertcast.clock.clock`, which tests replace.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alertcast.clock import clock
from alertcast.i18n import N_
from alertcast.models.finding import Finding, Level
from alertcast.models.incident import Incident, MsgType

#: How far in the past an Alert's onset may be before we ask whether the date is right.
ONSET_GRACE = timedelta(hours=1)


def _finding(
    rule: str, level: Level, path: str, value: datetime, message: str, suggestion: str, **params: Any
) -> Finding:
    return Finding.said(rule, level, message, suggestion, excerpt=value.isoformat(), path=path, **params)


def check(incident: Incident, *, grace: timedelta = ONSET_GRACE) -> list[Finding]:
    if incident.msg_type not in (MsgType.ALERT, MsgType.UPDATE):
        return []
    now = clock.now()
    findings = []
    for index, info in enumerate(incident.info):
        path = f"info[{index}]"
        starts = [
            (name, value)
            for name, value in (("onset", info.onset), ("effective", info.effective))
            if value is not None
        ]
        if info.expires is not None:
            for name, start in starts:
                if info.expires <= start:
                    findings.append(
                        _finding(
                            "times.expires_before_onset",
                            "block",
                            f"{path}.expires",
                            info.expires,
                            N_("expires (%(expires)s) is not after %(field)s (%(begins)s)"),
                            N_("check the day and the time zone of both times"),
                            expires=info.expires,
                            field=name,
                            begins=start,
                        )
                    )
            if info.expires <= now:
                findings.append(
                    _finding(
                        "times.expired",
                        "block",
                        f"{path}.expires",
                        info.expires,
                        N_("the alert has already expired (%(expires)s, now %(now)s)"),
                        N_("correct the expiry, or do not publish an alert that is over"),
                        expires=info.expires,
                        now=now,
                    )
                )
        if incident.msg_type == MsgType.ALERT and info.onset is not None and info.onset < now - grace:
            findings.append(
                _finding(
                    "times.onset_past",
                    "warn",
                    f"{path}.onset",
                    info.onset,
                    N_("onset (%(onset)s) is more than %(minutes)s minutes in the past"),
                    N_("check the date; for an ongoing event say 'since' in the text"),
                    onset=info.onset,
                    minutes=round(grace.total_seconds() / 60),
                )
            )
    return findings
