"""The subscribe page of the public site: what it says, where its forms go, and its files.

The page is static like the rest of the site (written by the site builder on load), yet its
forms talk to `alertcast web`: the commune search and the e-mail form are plain HTML forms to
the public subscribe endpoints, which answer an HTML page to a browser, so everything works
without JavaScript. With JavaScript, `assets/subscribe.js` adds suggestions while typing and,
where the browser has service workers and push, the button that subscribes this device; the
service worker (`sw.js`) sits at the site's root so its scope is the whole site.

The same template draws the page the endpoints answer (search results, a refused address with
its error tied to the field), from the same words: the static page is that template with an
empty form. The words are the site's own (French first, English), like alertcast.site.labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from alertcast.settings import Settings
from alertcast.site.labels import language_of
from alertcast.site.pages import DEFAULT_TEMPLATES
from alertcast.subscriptions.directory import Place

PAGE = "subscribe.html"
SERVICE_WORKER = "sw.js"
SCRIPT = "assets/subscribe.js"
Field = Literal["q", "areas", "email", "digest", "form"]

_FR: dict[str, str] = {
    "title": "Recevoir les alertes",
    "intro": "Choisissez vos communes, puis la façon de recevoir les alertes qui les concernent. "
    "Chaque message contient un lien pour vous désabonner en un clic.",
    "search_heading": "1. Vos communes",
    "search_label": "Nom de la commune ou code postal",
    "search_hint": "Par exemple : Beuvry, Marcq-en-Barœul ou 62660.",
    "search_button": "Rechercher",
    "results": "Communes trouvées",
    "add": "Ajouter",
    "no_result": "Aucune commune ne correspond à « {q} ». Vérifiez l'orthographe ou essayez le code postal.",
    "chosen": "Communes choisies",
    "none_chosen": "Aucune commune choisie pour l'instant : cherchez-la ci-dessus.",
    "via": "dont {via}",
    "how_heading": "2. Comment les recevoir",
    "push_heading": "Sur cet appareil",
    "push_text": "Une notification s'affiche sur cet appareil dès qu'une alerte concerne vos communes.",
    "push_button": "Recevoir les alertes sur cet appareil",
    "email_heading": "Par e-mail",
    "email_label": "Adresse e-mail",
    "email_hint": "Elle ne sert qu'à vous envoyer ces alertes. Vous recevrez d'abord un message pour la "
    "confirmer.",
    "digest_legend": "Fréquence des e-mails",
    "digest_immediate": "Dès qu'une alerte est publiée",
    "digest_daily": "Un résumé par jour",
    "email_button": "Recevoir les alertes par e-mail",
    "errors_heading": "Votre demande n'a pas pu être enregistrée",
    "error_prefix": "Erreur : ",
    # Refusals, by the stable `rule` of each Problem.
    "err_email_format": "Saisissez une adresse e-mail valide, par exemple nom@exemple.fr.",
    "err_email_missing": "Saisissez votre adresse e-mail.",
    "err_areas_missing": "Choisissez au moins une commune.",
    "err_too_long": "Choisissez au plus 50 communes ou départements.",
    "err_unknown_commune": "Une commune choisie n'existe pas dans la liste officielle : cherchez-la par "
    "son nom.",
    "err_former_commune": "Une commune choisie a fusionné avec une autre : cherchez-la à nouveau.",
    "err_digest": "Choisissez une fréquence.",
    "err_mail_refused": "Le serveur de messagerie refuse cette adresse : vérifiez-la.",
    "err_rate_limited": "Trop de demandes depuis votre connexion : réessayez dans une minute.",
    "err_other": "Cette valeur n'est pas acceptée.",
    # Messages the script shows (it reads them from the page, so it speaks the page's language).
    "js_add": "Ajouter : {label}",
    "js_via": "dont {via}",
    "js_searching": "Recherche…",
    "js_found": "{n} commune(s) trouvée(s).",
    "js_none": "Aucune commune trouvée.",
    "js_added": "{name} ajoutée aux communes choisies.",
    "js_failed": "La recherche n'a pas abouti. Réessayez.",
    "js_push_working": "Abonnement de cet appareil…",
    "js_push_done": "C'est fait : cet appareil recevra les alertes de vos communes.",
    "js_push_unsubscribe": "Ne plus recevoir les alertes sur cet appareil",
    "js_push_denied": "Les notifications sont bloquées pour ce site : autorisez-les dans les réglages "
    "du navigateur, puis réessayez.",
    "js_push_failed": "L'abonnement de cet appareil n'a pas abouti. Réessayez plus tard ou choisissez "
    "l'e-mail.",
    "back": "Retour à la page d'abonnement",
    "site": "Alertes en cours",
    # Pages the endpoints answer.
    "check_mail_title": "Vérifiez votre messagerie",
    "check_mail_text": "Un message vient d'être envoyé à {email}. Ouvrez le lien qu'il contient dans les "
    "48 heures pour confirmer l'abonnement ; sans confirmation, l'adresse est oubliée.",
    "push_done_title": "Cet appareil recevra les alertes",
    "confirmed_title": "Abonnement confirmé",
    "confirmed_text": "Vous recevrez les alertes de : {areas}.",
    "already_confirmed_text": "Cet abonnement était déjà confirmé. Vous recevez les alertes de : {areas}.",
    "unsubscribe_title": "Se désabonner",
    "unsubscribe_text": "Vous ne recevrez plus les alertes de : {areas}.",
    "unsubscribe_unknown_text": "Vous ne recevrez plus les alertes de cet abonnement.",
    "unsubscribe_button": "Me désabonner",
    "unsubscribed_title": "Vous êtes désabonné",
    "unsubscribed_text": "Vous ne recevrez plus ces alertes. Vous pouvez vous abonner à nouveau à tout "
    "moment.",
    "already_ended_text": "Cet abonnement était déjà terminé : vous ne recevez plus ces alertes.",
    "link_failed_title": "Ce lien ne fonctionne pas",
    "link_malformed": "Ce lien est incomplet ou a été modifié : ouvrez-le directement depuis le message "
    "reçu.",
    "link_wrong_action": "Ce lien ne sert pas à cela : utilisez l'autre lien du message.",
    "link_expired": "Ce lien de confirmation a expiré (48 heures) : abonnez-vous à nouveau, un nouveau "
    "message vous sera envoyé.",
    "link_unknown": "Cet abonnement est inconnu ou a expiré : abonnez-vous à nouveau. Si vous venez de vous "
    "abonner, réessayez dans une minute.",
    "link_ended": "Cet abonnement est terminé : abonnez-vous à nouveau pour recevoir les alertes.",
    "refused_title": "Demande refusée",
    "refused_origin": "Cette demande vient d'un autre site : abonnez-vous depuis la page d'abonnement.",
    "unavailable_title": "Service momentanément indisponible",
    "unavailable_text": "Votre demande n'a pas pu être enregistrée. Réessayez dans quelques minutes.",
    "departement": "département {code}",
}

_EN: dict[str, str] = {
    "title": "Get alerts",
    "intro": "Choose your towns, then how to receive the alerts about them. "
    "Every message has a link to unsubscribe in one click.",
    "search_heading": "1. Your towns",
    "search_label": "Town name or postcode",
    "search_hint": "For example: Beuvry, Marcq-en-Barœul or 62660.",
    "search_button": "Search",
    "results": "Towns found",
    "add": "Add",
    "no_result": "No town matches “{q}”. Check the spelling or try the postcode.",
    "chosen": "Chosen towns",
    "none_chosen": "No town chosen yet: search for it above.",
    "via": "including {via}",
    "how_heading": "2. How to receive them",
    "push_heading": "On this device",
    "push_text": "A notification shows on this device as soon as an alert concerns your towns.",
    "push_button": "Get alerts on this device",
    "email_heading": "By e-mail",
    "email_label": "E-mail address",
    "email_hint": "It is only used to send you these alerts. You will first get a message to confirm it.",
    "digest_legend": "How often",
    "digest_immediate": "As soon as an alert is published",
    "digest_daily": "One summary a day",
    "email_button": "Get alerts by e-mail",
    "errors_heading": "Your request could not be recorded",
    "error_prefix": "Error: ",
    "err_email_format": "Enter a valid e-mail address, for example name@example.org.",
    "err_email_missing": "Enter your e-mail address.",
    "err_areas_missing": "Choose at least one town.",
    "err_too_long": "Choose at most 50 towns or départements.",
    "err_unknown_commune": "A chosen town is not in the official list: search for it by name.",
    "err_former_commune": "A chosen town merged with another: search for it again.",
    "err_digest": "Choose how often.",
    "err_mail_refused": "The mail server refuses this address: check it.",
    "err_rate_limited": "Too many requests from your connection: try again in a minute.",
    "err_other": "This value is not accepted.",
    "js_add": "Add: {label}",
    "js_via": "including {via}",
    "js_searching": "Searching…",
    "js_found": "{n} town(s) found.",
    "js_none": "No town found.",
    "js_added": "{name} added to the chosen towns.",
    "js_failed": "The search failed. Try again.",
    "js_push_working": "Subscribing this device…",
    "js_push_done": "Done: this device will get the alerts of your towns.",
    "js_push_unsubscribe": "Stop alerts on this device",
    "js_push_denied": "Notifications are blocked for this site: allow them in the browser's settings, "
    "then try again.",
    "js_push_failed": "This device could not be subscribed. Try again later, or choose e-mail.",
    "back": "Back to the subscribe page",
    "site": "Current alerts",
    "check_mail_title": "Check your mailbox",
    "check_mail_text": "A message was just sent to {email}. Open the link in it within 48 hours to "
    "confirm the subscription; without a confirmation the address is forgotten.",
    "push_done_title": "This device will get the alerts",
    "confirmed_title": "Subscription confirmed",
    "confirmed_text": "You will receive the alerts of: {areas}.",
    "already_confirmed_text": "This subscription was already confirmed. You receive the alerts of: {areas}.",
    "unsubscribe_title": "Unsubscribe",
    "unsubscribe_text": "You will no longer receive the alerts of: {areas}.",
    "unsubscribe_unknown_text": "You will no longer receive the alerts of this subscription.",
    "unsubscribe_button": "Unsubscribe me",
    "unsubscribed_title": "You are unsubscribed",
    "unsubscribed_text": "You will no longer receive these alerts. You can subscribe again at any time.",
    "already_ended_text": "This subscription had already ended: you no longer receive these alerts.",
    "link_failed_title": "This link does not work",
    "link_malformed": "This link is incomplete or was changed: open it from the message itself.",
    "link_wrong_action": "This link is not for this: use the other link of the message.",
    "link_expired": "This confirmation link expired (48 hours): subscribe again, a new message will be sent.",
    "link_unknown": "This subscription is unknown or expired: subscribe again. If you just subscribed, "
    "try again in a minute.",
    "link_ended": "This subscription has ended: subscribe again to receive the alerts.",
    "refused_title": "Request refused",
    "refused_origin": "This request comes from another site: subscribe from the subscribe page.",
    "unavailable_title": "Service temporarily unavailable",
    "unavailable_text": "Your request could not be recorded. Try again in a few minutes.",
    "departement": "département {code}",
}

_WORDS = {"fr": MappingProxyType(_FR), "en": MappingProxyType(_EN)}


def words(language: str) -> Mapping[str, str]:
    """The page's words in `language`, French when the site has none in it."""
    return _WORDS.get(language_of(language) or "fr", _WORDS["fr"])


@dataclass(frozen=True)
class SubscribePage:
    """Where the page's forms go, and the key a browser subscribes push with."""

    api: str = ""  # the public URL of alertcast web's /subscribe; "": the site's own host (proxied)
    vapid_key: str | None = None  # the applicationServerKey; None: no push button, e-mail only
    email: bool = True  # an account sends confirmation mails: the page offers e-mail

    @classmethod
    def from_settings(cls, settings: Settings) -> SubscribePage | None:
        """None when the subscribe endpoints are off (no subscription secret): a page whose
        forms go nowhere would be worse than none."""
        if settings.subscription_key() is None:
            return None
        key = None
        if settings.vapid_private_key.get_secret_value() or settings.vapid_private_key_file:
            from alertcast.subscriptions.vapid import load_key

            key = load_key(settings).application_server_key
        return cls(
            api=settings.subscribe_base_url.rstrip("/"),
            vapid_key=key,
            email=bool(settings.subscribe_email_account),
        )

    def endpoints(self, root: str) -> dict[str, str]:
        """The endpoints' URLs from a page at `root` (the static page: its own folder)."""
        base = f"{self.api}/subscribe/" if self.api else f"{root}subscribe/"
        return {name: base + name for name in ("communes", "push", "email")}


@dataclass
class FormState:
    """What the page shows in its forms: empty on the static page; the citizen's input, the
    search results and the errors (by field) on a page the endpoints answer."""

    q: str = ""
    results: list[Place] | None = None  # None: no search made
    chosen: list[Place] = field(default_factory=list)
    chosen_codes: list[str] = field(default_factory=list)  # départements and unknown codes too
    email: str = ""
    digest: str = "immediate"
    errors: dict[str, str] = field(default_factory=dict)


def page_context(
    page: SubscribePage, *, root: str, language: str, endpoints: Mapping[str, str], form: FormState
) -> dict[str, Any]:
    """The subscribe template's own variables (the site's common ones are added by the caller)."""
    s = words(language)
    return {
        "root": root,
        "page": "subscribe",
        "s": s,
        # What the script says, in the page's language: its own words and the form's errors.
        "js_words": {k.removeprefix("js_"): v for k, v in s.items() if k.startswith(("js_", "err_"))},
        "endpoints": dict(endpoints),
        "vapid_key": page.vapid_key or "",
        "email_offered": page.email,
        "sw": f"{root}{SERVICE_WORKER}",
        "form": form,
    }


def static_files(templates_dir: Path | None) -> dict[str, bytes]:
    """The service worker (at the root: its scope is the folder it is served from) and the
    page's script, from the templates folder when it has its own."""
    files = {}
    for target, name in ((SERVICE_WORKER, "sw.js"), (SCRIPT, "subscribe.js")):
        source = (templates_dir or DEFAULT_TEMPLATES) / "assets" / name
        if not source.is_file():
            source = DEFAULT_TEMPLATES / "assets" / name
        files[target] = source.read_bytes()
    return files


def subscribe_files(
    page: SubscribePage,
    render: Callable[[str, dict[str, Any]], bytes],
    *,
    language: str,
    templates_dir: Path | None,
) -> list[tuple[str, bytes]]:
    """What the site builder writes on load: the page (at the site's root), its script and
    the service worker. `render(template, context)` is the builder's own page drawing."""
    context = page_context(page, root="", language=language, endpoints=page.endpoints(""), form=FormState())
    return [(PAGE, render("subscribe.html.j2", context)), *static_files(templates_dir).items()]
