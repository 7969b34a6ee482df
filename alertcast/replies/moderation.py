"""Moderation of a citizen's reply by the body's usage charter: keep, hide or flag.

What must not stay visible under a public body's post is hidden at once: someone's personal
data (GDPR: a mobile number posted in anger is still someone's), insults and threats. What may
be legitimate is only flagged for a person: a link that smells of a scam, a reply that is
mostly links, campaigning (a citizen may say they disagree; the body's page must not become a
tract). Every reason carries its rule id and a message in the reply's language, because the
community manager answers to the citizen for each decision; and a person may reverse any of
them (`ModerationDecision.reversed_by`), the machine's decision staying on record.

The personal-data and partisan checks are the charter's own (`check_text`), so a reply is
judged by the same rules as our posts. A reason's message is stored in the reply's language
(French or English, from the catalogs) with its msgid and values, so the console says it in
the reader's language (`alertcast.explanations`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, Self
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alertcast.charter import check_text
from alertcast.charter.folding import Folded, fold_with_map
from alertcast.charter.personal_lexicon import contacts
from alertcast.errors import ConfigurationError
from alertcast.i18n import N_, fill, translations
from alertcast.models.incident import UtcDateTime
from alertcast.replies.matching import contains_any, find_phrases
from alertcast.replies.model import Reply

Action = Literal["keep", "flag", "hide"]
LANGUAGES = ("fr", "en")
#: Who decided, when no person did.
AUTOMATIC = "alertcast"

#: Charter rules that hide a reply (by prefix) and those that only flag it.
HIDE_PREFIXES = ("personal_data.",)
FLAG_RULES = frozenset({"neutrality.political", "neutrality.partisan"})

#: Our own rules' messages (msgids); a charter rule's is quoted as `%(message)s`.
MESSAGES: dict[str, str] = {
    "moderation.insult": N_('"%(excerpt)s" is an insult: the usage charter hides it.'),
    "moderation.harassment": N_('"%(excerpt)s" is a threat or harassment: the usage charter hides it.'),
    "moderation.scam_link": N_(
        '"%(excerpt)s" links outside public sites next to money or prize words: '
        "possibly a scam, a person checks it."
    ),
    "moderation.mostly_links": N_(
        "The reply is mostly links outside public sites: possibly spam, a person checks it."
    ),
    "moderation.campaigning": N_("Possible political campaigning, a person checks it: %(message)s"),
    "moderation.personal_data": N_("Personal data, hidden by the usage charter: %(message)s"),
}

URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"')\]]+")
EMAIL_DOMAIN = re.compile(r"@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})")
#: A reply with at most this many words besides its outside links is "mostly links".
MOSTLY_LINKS_WORDS = 3
_WORD = re.compile(r"\w+")


class ReplyLexiconError(ConfigurationError, ValueError):
    """A moderation lexicon is unreadable or malformed: the message names the file and field."""


class Reason(BaseModel):
    """Why one span decided the action; `text[start:end] == excerpt` (start = end = 0 when the
    reason is about the whole reply)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    excerpt: str
    message: str
    message_id: str = Field(default="", description="the msgid `message` renders")
    params: dict[str, Any] = Field(default_factory=dict, description="the values the msgid names")

    @classmethod
    def said(
        cls,
        rule: str,
        message: str,
        language: str,
        /,
        *,
        start: int = 0,
        end: int = 0,
        excerpt: str = "",
        **params: Any,
    ) -> Self:
        """A reason worded by the msgid `message` (`%(excerpt)s` is the excerpt), stored in
        `language` (the reply's: fr or en)."""
        if "%(excerpt)s" in message:
            params = {"excerpt": excerpt, **params}
        words = translations(message_language(language)).gettext(message)
        return cls(
            rule=rule,
            start=start,
            end=end,
            excerpt=excerpt,
            message=fill(words, params),
            message_id=message,
            params=params,
        )


class Moderation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    reasons: list[Reason] = Field(default_factory=list)


class ModerationDecision(BaseModel):
    """A decision as recorded: the machine's first, then any person's, each keeping the one it
    overrides so the community manager can show who decided what, and when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reply_id: str
    action: Action
    reasons: list[Reason] = Field(default_factory=list)
    by: str = Field(min_length=1)
    at: UtcDateTime
    overrides: ModerationDecision | None = None

    @classmethod
    def automatic(cls, reply: Reply, moderation: Moderation, at: datetime) -> ModerationDecision:
        return cls(
            reply_id=reply.id, action=moderation.action, reasons=moderation.reasons, by=AUTOMATIC, at=at
        )

    def reversed_by(self, person: str, at: datetime, action: Action = "keep") -> ModerationDecision:
        """A person's decision replacing this one (by default: show the reply again)."""
        return ModerationDecision(reply_id=self.reply_id, action=action, by=person, at=at, overrides=self)


class _Lexicon(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    insults: tuple[str, ...] = ()
    harassment: tuple[str, ...] = ()
    scam_words: tuple[str, ...] = ()


@lru_cache(maxsize=8)
def lexicon(language: str) -> _Lexicon:
    """The packaged lexicon of `language` (fr or en), read once."""
    name = f"insults.{language}.yaml"
    try:
        text = resources.files("alertcast.replies").joinpath("lexicons", name).read_text(encoding="utf-8")
        return _Lexicon.model_validate(yaml.safe_load(text) or {})
    except (OSError, yaml.YAMLError) as error:
        raise ReplyLexiconError(f"lexicons/{name}: {error}") from error
    except ValidationError as error:
        where = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise ReplyLexiconError(f"lexicons/{name}: {where}") from error


def message_language(language: str) -> str:
    """fr-FR speaks French, anything that is not French is answered in English."""
    primary = language.lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else "en"


def _under(host: str, parents: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == parent or host.endswith("." + parent) for parent in parents)


def public_domains(body_domains: Iterable[str] = ()) -> tuple[str, ...]:
    """gouv.fr and the other public-sector domains the charter knows, plus the body's own."""
    own = tuple(domain.lower().strip().lstrip("@.") for domain in body_domains if domain.strip())
    return (*contacts().public_domains, *own)


def _host(url: str) -> str:
    return (urlsplit(url if "://" in url else "http://" + url).hostname or "").lower()


def _charter_reasons(
    reply: Reply, language: str, allowed: tuple[str, ...]
) -> tuple[list[Reason], list[Reason]]:
    hide: list[Reason] = []
    flag: list[Reason] = []
    for finding in check_text(reply.text, language):
        if finding.rule.startswith(HIDE_PREFIXES):
            domain = EMAIL_DOMAIN.search(finding.excerpt)
            if finding.rule == "personal_data.email" and domain and _under(domain.group(1), allowed):
                continue  # any address on the body's own domains is the body's
            rule, target = "moderation.personal_data", hide
        elif finding.rule in FLAG_RULES:
            rule, target = "moderation.campaigning", flag
        else:
            continue  # style and opinion bind the body's posts, not what citizens write
        quoted = finding.model_dump(include={"message", "message_id", "params"})
        target.append(
            Reason.said(
                finding.rule,
                MESSAGES[rule],
                language,
                start=finding.start,
                end=finding.end,
                excerpt=finding.excerpt,
                message=quoted,
            )
        )
    return hide, flag


def _lexicons(language: str) -> list[_Lexicon]:
    primary = language.lower().split("-")[0]
    return [lexicon(primary)] if primary in LANGUAGES else [lexicon(code) for code in LANGUAGES]


def _lexicon_reasons(folded: Folded, language: str) -> list[Reason]:
    reasons = []
    for table in _lexicons(language):
        for rule, phrases in (
            ("moderation.insult", table.insults),
            ("moderation.harassment", table.harassment),
        ):
            for _, start, end in find_phrases(folded, phrases):
                excerpt = folded.original[start:end]
                reasons.append(
                    Reason.said(rule, MESSAGES[rule], language, start=start, end=end, excerpt=excerpt)
                )
    return reasons


def _link_reasons(folded: Folded, language: str, allowed: tuple[str, ...]) -> list[Reason]:
    text = folded.original
    outside = [match for match in URL.finditer(text) if not _under(_host(match.group(0)), allowed)]
    if not outside:
        return []
    # Scams are often in broken or mixed language: both languages' money words count.
    scam_words = [word for code in LANGUAGES for word in lexicon(code).scam_words]
    rest = URL.sub(" ", text)
    if contains_any(fold_with_map(rest), scam_words):
        return [
            Reason.said(
                "moderation.scam_link",
                MESSAGES["moderation.scam_link"],
                language,
                start=match.start(),
                end=match.end(),
                excerpt=match.group(0),
            )
            for match in outside
        ]
    words = _WORD.findall(re.sub(r"[@#]\w+", " ", rest))
    link_chars = sum(len(match.group(0)) for match in outside)
    if len(words) <= MOSTLY_LINKS_WORDS or link_chars * 2 > len("".join(text.split())):
        return [Reason.said("moderation.mostly_links", MESSAGES["moderation.mostly_links"], language)]
    return []


def moderate(reply: Reply, language: str, *, body_domains: Iterable[str] = ()) -> Moderation:
    """The charter's verdict on `reply` written in `language` (a BCP 47 tag, "fr" or "fr-FR").

    `body_domains` are the body's own web and mail domains: links and addresses there are the
    body's, never spam or personal data. The strictest reason decides: hide, then flag, then keep.
    """
    allowed = public_domains(body_domains)
    folded = fold_with_map(reply.text)
    hide, flag = _charter_reasons(reply, language, allowed)
    hide += _lexicon_reasons(folded, language)
    flag += _link_reasons(folded, language, allowed)
    reasons = sorted([*hide, *flag], key=lambda reason: (reason.start, reason.end, reason.rule))
    action: Action = "hide" if hide else "flag" if flag else "keep"
    return Moderation(action=action, reasons=reasons)
