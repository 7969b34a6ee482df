"""The HTML the subscribe endpoints answer a browser, so the page works without JavaScript.

A browser posting the e-mail form, following a search, a confirm or an unsubscribe link asks
for HTML and gets a page of the public site's look: the same subscribe template as the static
page (with the communes found, or the citizen's input and each error tied to its field), or a
short message page. Drawn with the site's sandboxed environment and words; the links of the
base template point to the public site (`site_base_url`), the forms to the endpoints next door.

Pages reached by a signed link never leak it: no Referer leaves them for another site (a
same-origin one keeps the forms' `Origin` intact), nothing caches them, and no other site may
frame the unsubscribe button.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from starlette.responses import HTMLResponse

from alertcast.models.problem import Problem
from alertcast.site.cap_writer import resolve_timezone
from alertcast.site.dates import zone_place
from alertcast.site.labels import labels, language_of
from alertcast.site.pages import page_environment, render_page
from alertcast.site.subscribe import FormState, SubscribePage, page_context, words
from alertcast.subscriptions.codes import is_departement
from alertcast.subscriptions.directory import CommuneDirectory

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",  # a link's token never leaves for another site
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}
# Where a refused field's message goes, by the Problem's path, and its words, by rule.
_FIELDS = ("email", "areas", "digest", "q")
_AREA_RULES = {
    "too_short": "err_areas_missing",
    "missing": "err_areas_missing",
    "too_long": "err_too_long",
    "unknown_commune": "err_unknown_commune",
    "unknown_departement": "err_unknown_commune",
    "area_code": "err_unknown_commune",
    "former_commune": "err_former_commune",
}
_EMAIL_RULES = {"missing": "err_email_missing", "mail_refused": "err_mail_refused"}


def page_language(value: object) -> str:
    """The page's language from a form's `lang`: one the site has words in, else French."""
    return (language_of(value) if isinstance(value, str) else "") or "fr"


class Pages:
    def __init__(
        self,
        page: SubscribePage,
        directory: CommuneDirectory,
        *,
        site_url: str = "",
        templates_dir: Path | None = None,
        tz: str = "Europe/Paris",
    ) -> None:
        self._page = page
        self._directory = directory
        self._env = page_environment(templates_dir)
        self._tz = resolve_timezone(tz)
        self.root = f"{site_url.rstrip('/')}/" if site_url else "/"

    @property
    def back(self) -> str:
        return f"{self.root}subscribe.html"

    def form(self, language: str, form: FormState, status: int = 200) -> HTMLResponse:
        """The subscribe page with the citizen's input, what was found, and what was refused."""
        endpoints = {name: name for name in ("communes", "push", "email")}  # next door: /subscribe/*
        context = page_context(self._page, root=self.root, language=language, endpoints=endpoints, form=form)
        return self._answer("subscribe.html.j2", language, context, status)

    def message(
        self,
        language: str,
        heading: str,
        paragraphs: Sequence[str],
        *,
        status: int = 200,
        failed: bool = False,
        action: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        context = {
            "root": self.root,
            "page": "subscribe-message",
            "s": words(language),
            "heading": heading,
            "paragraphs": list(paragraphs),
            "failed": failed,
            "action": dict(action) if action else None,
            "back": self.back,
        }
        return self._answer("subscribe_message.html.j2", language, context, status)

    def failure(self, language: str, problems: Sequence[Problem], status: int) -> HTMLResponse:
        """A refusal that is not about a form field (a link, the origin, the rate)."""
        s = words(language)
        rule = problems[0].rule if problems else ""
        text = {
            "token_malformed": s["link_malformed"],
            "token_signature": s["link_malformed"],
            "token_from_future": s["link_malformed"],
            "token_action": s["link_wrong_action"],
            "token_expired": s["link_expired"],
            "confirmation_expired": s["link_expired"],
            "unknown_subscription": s["link_unknown"],
            "subscription_ended": s["link_ended"],
            "cross_origin": s["refused_origin"],
            "rate_limited": s["err_rate_limited"],
            "unavailable": s["unavailable_text"],
        }.get(rule, s["err_other"])
        heading = (
            s["link_failed_title"]
            if rule.startswith(("token", "unknown", "subscription", "confirm"))
            else (s["unavailable_title"] if status >= 500 else s["refused_title"])
        )
        return self.message(language, heading, [text], status=status, failed=True)

    def place_names(self, codes: Iterable[str], language: str) -> list[str]:
        """ "Beuvry (62660)", "département 62": how the pages and the mail name areas."""
        names = []
        for code in codes:
            place = self._directory.get(code)
            if place is not None:
                names.append(place.label)
            elif is_departement(code):
                names.append(words(language)["departement"].format(code=code))
            else:
                names.append(code)
        return names

    def errors(self, problems: Sequence[Problem], language: str) -> dict[str, str]:
        """One message per field (the first problem of each), in the page's language."""
        s = words(language)
        found: dict[str, str] = {}
        for problem in problems:
            name = problem.path.split(".")[0]
            name = name if name in _FIELDS else "form"
            if name in found:
                continue
            if name == "areas":
                key = _AREA_RULES.get(problem.rule, "err_other")
            elif name == "email":
                key = _EMAIL_RULES.get(problem.rule, "err_email_format")
            elif name == "digest":
                key = "err_digest"
            else:
                key = "err_rate_limited" if problem.rule == "rate_limited" else "err_other"
            found[name] = s[key]
        return found

    def _answer(self, template: str, language: str, context: dict[str, Any], status: int) -> HTMLResponse:
        site_words = labels(language)
        common = {
            "lang": language,
            "t": {
                **site_words,
                "times_note": site_words["times_note"].format(place=zone_place(self._tz, language)),
            },
            "generated": None,
            "subscribe": True,
        }
        body = render_page(self._env, template, {**common, **context})
        return HTMLResponse(body, status_code=status, headers=HEADERS)
