"""What the channel adapters need about an account and a request, written once.

- `Secret`: a token or password named by an environment variable or a secret file, read when
  needed (a rotated file is picked up), never logged nor put into an error message.
- `TokenAccount`: the pydantic base of an account that posts with one secret token (a `Secret`);
  `exercise` and `delete_on_end` switches.
- `Accounts`: a channel's accounts by name, and the account a request may go to.
- `refuse_exercise`, `text_of`, `text_as_rendered`, `language_of`: a public account never
  receives an Exercise/Test message, and no exercise (nor, on social networks, end of alert)
  leaves without its label.
- `marker`, `with_marker`, `has_marker`: the delivery's short reference carried by a post, so
  `find_existing` can recognise it after a crash.
- `Steps`: what this process already did for a delivery, so a retry of a multi-step call (a
  reply, then a deletion) does not repeat the step that succeeded.
- `redact_http_logs`: httpx logs every request URL at INFO; Telegram puts the bot token in the
  path and the Graph API takes `access_token` in the query, so those logs are redacted.
- `hide_url`, `shown_url`: a URL that is itself a credential (a webhook's) is shown as its
  origin only, in messages, logs and receipts alike.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from alertcast.delivery.retry import PermanentError
from alertcast.models.alert import DeliveryRequest
from alertcast.models.incident import MsgType, Status
from alertcast.models.post import PostResult
from alertcast.render.compose import END_LABELS, EXERCISE_LABELS
from alertcast.render.reference import MARKER_DIGITS, MARKER_PREFIX


@dataclass(frozen=True)
class Secret:
    """A secret the configuration names by an environment variable (`<name>_env`) or a file
    (`<name>_file`, a secret mount): exactly one of them. Read when needed, so a rotated secret
    is used without a restart; messages say where it comes from, never what it is."""

    name: str  #: as in the configuration: "access_token", "app_password", "password"
    env: str | None
    file: Path | None
    #: A password may begin or end with spaces: kept, only the file's line end is removed.
    keep_spaces: bool = False

    def check(self) -> None:
        if (self.env is None) == (self.file is None):
            raise ValueError(f"give exactly one of {self.name}_env and {self.name}_file")

    def source(self) -> str:
        """Where the secret comes from, for messages (never the secret itself)."""
        if self.env is not None:
            return f"environment variable {self.env}"
        return f"file {self.file}"

    def read(self, where: str) -> str:
        """The secret now; `where` (the account) starts the error messages."""
        what = self.name.replace("_", " ")
        if self.env is not None:
            value = os.environ.get(self.env, "")
        else:
            assert self.file is not None
            try:
                value = self.file.read_text().rstrip("\r\n")
            except OSError as error:
                raise PermanentError(
                    f"{where}: cannot read the {what} from {self.source()}: {error.strerror}"
                ) from None
        if not self.keep_spaces:
            value = value.strip()
        if not value:
            raise PermanentError(f"{where}: no {what} in {self.source()}")
        return value


class TokenAccount(BaseModel):
    """One account posting with one token. Exactly one token source must be given."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: ClassVar[str] = "channel"

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="account id in deliveries")
    access_token_env: str | None = Field(default=None, description="environment variable holding the token")
    access_token_file: Path | None = Field(
        default=None, description="file holding the token (a secret mount)"
    )
    exercise: bool = Field(default=False, description="may receive Exercise/Test messages")
    delete_on_end: bool = Field(default=False, description="delete the alert's post when it ends")

    @model_validator(mode="after")
    def _one_token_source(self) -> TokenAccount:
        self._token().check()
        return self

    def _token(self) -> Secret:
        return Secret("access_token", self.access_token_env, self.access_token_file)

    def where(self) -> str:
        return f"{self.channel} account {self.name}"

    def token_source(self) -> str:
        """Where the token comes from, for messages (never the token itself)."""
        return self._token().source()

    def access_token(self) -> str:
        """Read now, so a rotated secret is used without a restart."""
        return self._token().read(self.where())

    def revoked(self, reason: str) -> PermanentError:
        """The one message for a refused token: what the network said and where to renew it."""
        return PermanentError(
            f"{self.where()}: token revoked or invalid ({reason}); renew it in {self.token_source()}"
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def https_unless_local(value: str, field: str) -> str:
    """The token travels in every request: plain http only to this machine (tests)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{field} must be an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"{field} must use https (plain http is allowed on 127.0.0.1 only)")
    return value.rstrip("/")


# --- the request -------------------------------------------------------------------------------


def is_exercise(request: DeliveryRequest) -> bool:
    return request.incident.status in (Status.EXERCISE, Status.TEST)


class Account(Protocol):
    """What `Accounts` and `refuse_exercise` need of an account (token, password or app password)."""

    @property
    def name(self) -> str: ...

    @property
    def exercise(self) -> bool: ...

    def where(self) -> str: ...


A = TypeVar("A", bound=Account)


class Accounts(dict[str, A]):
    """A channel's accounts by name; `label` names the channel in messages ("e-mail")."""

    def __init__(self, label: str, accounts: Sequence[A]) -> None:
        super().__init__((account.name, account) for account in accounts)
        if len(self) != len(accounts):
            raise ValueError(f"two {label} accounts share a name")
        self.label = label

    def named(self, name: str) -> A:
        try:
            return self[name]
        except KeyError:
            raise PermanentError(
                f"no {self.label} account named {name!r}; configured: {', '.join(self) or 'none'}"
            ) from None

    def for_request(self, request: DeliveryRequest, verb: str = "posted") -> A:
        """The request's account, after refusing what must never reach it."""
        account = self.named(request.account)
        refuse_exercise(account, request, verb)
        return account


def refuse_exercise(account: Account, request: DeliveryRequest, verb: str = "posted") -> None:
    """An Exercise or Test message never reaches a public account."""
    if is_exercise(request) and not account.exercise:
        raise PermanentError(
            f"{account.where()} is a public account (exercise: false): "
            f"a {request.incident.status.value} message is never {verb} to it"
        )


def language_of(request: DeliveryRequest) -> str:
    language = (request.text.language if request.text else "fr").split("-")[0].lower()
    return language if language in END_LABELS else "fr"


def text_of(request: DeliveryRequest) -> str:
    """The rendered text, labelled EXERCICE when it is one and FIN D'ALERTE when it ends one
    (compose normally does both; this makes sure no such post goes out unlabelled)."""
    language = language_of(request)
    text = _publishable(request).strip()
    ending = request.incident.msg_type is MsgType.CANCEL
    if not text and ending:
        text = headline_of(request)
    if not text:
        raise _no_text(request)
    end_label = END_LABELS[language]
    if ending and end_label not in text:
        text = f"{end_label} – {text}"
    return _exercise_labelled(request, language, text)


def text_as_rendered(request: DeliveryRequest) -> str:
    """The rendered text as it is, only labelled EXERCICE/EXERCISE when it is one (compose
    normally does it; this makes sure no exercise ever leaves unlabelled). Matrix and e-mail:
    nothing stripped and no FIN D'ALERTE added to a text (their long texts carry the state);
    an end of alert without a text becomes `FIN D'ALERTE – <headline>`."""
    language = language_of(request)
    text = _publishable(request)
    if not text.strip():
        if request.incident.msg_type is not MsgType.CANCEL:
            raise _no_text(request)
        headline = headline_of(request)
        text = END_LABELS[language] + (f" – {headline}" if headline else "")
    return _exercise_labelled(request, language, text)


def _publishable(request: DeliveryRequest) -> str:
    """The text compose rendered ("" when none); a blocked text never leaves."""
    if request.text is not None and request.text.blocked:
        raise PermanentError(f"{request.delivery_key}: the text is blocked: {request.text.reason}")
    return request.text.text if request.text is not None else ""


def headline_of(request: DeliveryRequest) -> str:
    """The alert's headline in the text's language, else its main one ("" when it has no info)."""
    info = request.incident.info_for(language_of(request)) or request.incident.main_info
    return info.headline if info else ""


def _no_text(request: DeliveryRequest) -> PermanentError:
    return PermanentError(f"{request.delivery_key}: no text was rendered for this channel")


def _exercise_labelled(request: DeliveryRequest, language: str, text: str) -> str:
    label = EXERCISE_LABELS[language]
    if is_exercise(request) and label not in text:
        text = f"{label}\n{text}"
    return text


# --- the marker --------------------------------------------------------------------------------


def marker(delivery_key: str) -> str:
    """The delivery's reference in its post: short, stable, only [a-z0-9-], distinct for each
    alert, version, channel and account."""
    return MARKER_PREFIX + hashlib.sha256(delivery_key.encode()).hexdigest()[:MARKER_DIGITS]


def has_marker(text: str, token: str) -> bool:
    """`token` as a whole word in `text` (a link's fragment or the reference line)."""
    return re.search(rf"(?<![0-9a-z-]){re.escape(token)}(?![0-9a-z])", text) is not None


# --- answers -----------------------------------------------------------------------------------


def seconds_until(value: str, now: datetime) -> float | None:
    """A `Retry-After` value (seconds or an HTTP date) as seconds from `now`."""
    value = value.strip()
    if not value:
        return None
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        return max((parsedate_to_datetime(value) - now).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


class Steps:
    """What this process already did for each delivery (bounded, oldest forgotten first).

    The retry policy calls `end` again after a transient failure of its second step; the
    first step (the end notice) must not be posted twice. A crash loses this memory: then the
    ledger's `find_existing` takes over."""

    def __init__(self, size: int = 2048) -> None:
        self._done: OrderedDict[tuple[str, str], PostResult] = OrderedDict()
        self._unsure: set[str] = set()
        self._size = size

    def get(self, delivery_key: str, step: str) -> PostResult | None:
        return self._done.get((delivery_key, step))

    def put(self, delivery_key: str, step: str, result: PostResult) -> PostResult:
        self._done[(delivery_key, step)] = result
        self._done.move_to_end((delivery_key, step))
        while len(self._done) > self._size:
            self._done.popitem(last=False)
        self._unsure.discard(delivery_key)
        return result

    def mark_unsure(self, delivery_key: str) -> None:
        """A post may have reached the network without an answer (timeout, 5xx after sending)."""
        if len(self._unsure) < self._size:
            self._unsure.add(delivery_key)

    def unsure(self, delivery_key: str) -> bool:
        return delivery_key in self._unsure

    def settle(self, delivery_key: str) -> None:
        self._unsure.discard(delivery_key)


# --- logs --------------------------------------------------------------------------------------

#: Secrets that can appear in a URL: Telegram's `/bot<token>/`; a token, key, secret, password or
#: signature in the query (the Graph API's `access_token=`); a password before the host's `@`.
_SECRETS_IN_URLS = re.compile(
    r"(/bot)[^/\s\"']+"
    r"|((?:access_token|[?&](?i:token|api_?key|key|secret|password|sig|signature))=)[^&\s\"'#]+"
    r"|(://[^/\s:@\"']*:)[^/\s@\"']+(?=@)"
)
#: URLs that are themselves credentials (`hide_url`) and the token-like parts they carry, with
#: what `redact` shows instead; one pattern of them all, the longest first.
_HIDDEN: dict[str, str] = {}
_hidden_pattern: re.Pattern[str] | None = None


def redact(text: str) -> str:
    """`text` with any token a URL can carry replaced by `<redacted>`, and every URL given to
    `hide_url` shown as its origin only."""
    if _hidden_pattern is not None:
        text = _hidden_pattern.sub(lambda m: _HIDDEN[m.group(0)], text)
    return _SECRETS_IN_URLS.sub(lambda m: next(g for g in m.groups() if g is not None) + "<redacted>", text)


def shown_url(url: str) -> str:
    """A URL as messages, logs and receipts may show it: scheme, host and port; whatever
    follows (a path or a query may hold a token) is `/<redacted>`."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return "<redacted URL>"
    if not parts.scheme or not host:
        return "<redacted URL>"
    where = (f"[{host}]" if ":" in host else host) + (f":{port}" if port is not None else "")
    rest = "/<redacted>" if parts.path.strip("/") or parts.query or parts.fragment else ""
    return f"{parts.scheme}://{where}{rest}"


def hide_url(url: str) -> str:
    """Say that `url` is a credential (a webhook's URL: its token in the path or the query).
    From now on `redact` (so httpx's request log once `redact_http_logs` is on, and
    `error_text`) shows it as `shown_url`, and hides the token-like parts it carries wherever
    they appear alone (a receiver's error answer echoing them). Returns `shown_url(url)`."""
    global _hidden_pattern
    shown = shown_url(url)
    forms = {url, url.strip()}
    with contextlib.suppress(httpx.InvalidURL):
        forms.add(str(httpx.URL(url.strip())))  # as httpx logs it
    for form in forms:
        if form:
            _HIDDEN[form] = shown
    for part in _token_parts(url):
        _HIDDEN.setdefault(part, "<redacted>")
    keys = sorted(_HIDDEN, key=len, reverse=True)
    _hidden_pattern = re.compile("|".join(map(re.escape, keys)))
    return shown


def _token_parts(url: str) -> set[str]:
    """What in `url` may be a token: its user and password, and the path segments and query
    values that look like one (8 characters or more with a digit or both cases, or 20 or more)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return set()
    found = {value for value in (parts.username, parts.password) if value}
    pieces = parts.path.split("/") + [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
    pieces += [piece.partition("=")[2] for piece in parts.query.split("&")]
    for piece in pieces:
        for form in (piece, unquote(piece)):
            if _looks_like_a_token(form):
                found.add(form)
    return found


def _looks_like_a_token(text: str) -> bool:
    if len(text) >= 20:
        return True
    cases = any(c.isupper() for c in text) and any(c.islower() for c in text)
    return len(text) >= 8 and (cases or any(c.isdigit() for c in text))


class _RedactUrls(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = _RedactUrls()


def redact_http_logs(*loggers: str) -> None:
    """Redact tokens in what httpx and httpcore log (httpx: every request URL, at INFO)."""
    for name in loggers or ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def error_text(error: BaseException, secret: str | None = None) -> str:
    """An exception as text for an error message: its type and message, tokens redacted."""
    text = f"{type(error).__name__}: {error}".rstrip(": ")
    if secret:
        text = text.replace(secret, "<redacted>")
    return redact(text)


def maybe_sent(error: Exception) -> bool:
    """Whether the request may have reached the network: not when the connection was never made."""
    return not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def merged(result: PostResult, **details: Any) -> PostResult:
    return result.model_copy(update={"details": {**result.details, **details}})
