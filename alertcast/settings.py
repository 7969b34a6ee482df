"""The one settings object: every knob is an ALERTCAST_* environment variable (or a .env file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alertcast.errors import ConfigurationError
from alertcast.signed_links import MIN_SECRET_BYTES

if TYPE_CHECKING:
    from alertcast.replies.sla import SlaPolicy

ROOT = Path(__file__).resolve().parents[1]
SECRET_BYTES = MIN_SECRET_BYTES  # of signed links' HMAC keys


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTCAST_", env_file=".env", extra="ignore")

    bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,...]")
    topic_prefix: str = Field(default="", description="prepended to every topic name (tests, tenants)")
    app_id: str = Field(default="alertcast", description="Faust application id (consumer group)")
    worker_web_port: int = Field(default=6066, description="worker health/metrics port on 127.0.0.1")
    worker_web_bind: str = Field(
        default="127.0.0.1", description="address of the worker's web server (0.0.0.0 in a pod only)"
    )
    breaker_failures: int = Field(
        default=5, description="consecutive transient failures that open an account's circuit"
    )
    breaker_cooldown_s: float = Field(
        default=30.0, description="seconds an open circuit waits before one probe"
    )
    worker_data_dir: Path = Field(
        default=Path(".alertcast") / "worker", description="Faust's local data (tables' stores)"
    )
    worker_concurrency: int = Field(
        default=16, description="messages in flight per agent (ingest, approval, deliveries)"
    )
    site_dir: Path = Field(
        default=Path("site"), description="the site folder, written by the worker that owns site.versions"
    )
    site_ended_kept_hours: float = Field(
        default=48.0,
        gt=0,
        description="hours an ended alert stays on the index, feeds and area pages (then the archive only)",
    )
    site_archive_page_size: int = Field(default=50, ge=1, description="ended alerts per archive page")
    site_base_url: str = Field(default="", description="public URL of the site, for links in posts")
    templates_dir: Path = Field(default=ROOT / "templates")
    channels: list[str] = Field(
        default=["website", "webhook"], description="channels every approved alert goes to"
    )
    routes: list[dict[str, Any]] = Field(
        default=[],
        description="which accounts get which alerts: JSON list of {channel, account, categories, areas, "
        "exercise}; an account without a route gets every public alert",
    )
    channel_rates: dict[str, dict[str, float]] = Field(
        default={
            "telegram": {"posts": 20, "per_s": 60},  # Bot API: 20 messages a minute in one group
            "mastodon": {"posts": 300, "per_s": 3 * 3600},  # mastodon.social: 300 statuses in 3 h
            "bluesky": {"posts": 1666, "per_s": 3600},  # PDS: 5,000 points an hour, 3 per post
        },
        description="posts per account of each channel: JSON {channel: {posts, per_s}}; a channel "
        "left out is not paced",
    )
    account_check_interval_s: float = Field(
        default=900.0,
        description="the worker checks every account this often (0: never); a failing one gets a "
        "warning receipt, and the limits accounts report feed compose",
    )
    webhook_urls: list[str | dict[str, Any]] = Field(
        default=[],
        description="webhook accounts: JSON list of URLs (account id: the first 12 hex digits of the URL's "
        "SHA-256) or of {name, url} objects; the URLs are credentials, never shown whole",
        repr=False,
    )
    webhook_secret: SecretStr = Field(
        default=SecretStr(""), description="HMAC key of webhook signatures (required, unless unsigned)"
    )
    webhook_unsigned: bool = Field(
        default=False, description="send webhooks unsigned: an explicit choice, when there is no secret"
    )
    matrix_accounts: list[dict[str, Any]] = Field(
        default=[], description="Matrix accounts (JSON list of MatrixAccount)"
    )
    email_accounts: list[dict[str, Any]] = Field(
        default=[], description="e-mail accounts (JSON list of EmailAccount)"
    )
    mastodon_accounts: list[dict[str, Any]] = Field(
        default=[], description="Mastodon accounts (JSON list of MastodonAccount)"
    )
    bluesky_accounts: list[dict[str, Any]] = Field(
        default=[], description="Bluesky accounts (JSON list of BlueskyAccount)"
    )
    x_accounts: list[dict[str, Any]] = Field(
        default=[],
        description="X accounts (JSON list of XAccount); replies are read only from an account with "
        "read_replies: true, which needs a paid X API tier",
    )
    facebook_accounts: list[dict[str, Any]] = Field(
        default=[], description="Facebook Pages (JSON list of FacebookAccount)"
    )
    telegram_accounts: list[dict[str, Any]] = Field(
        default=[], description="Telegram chats (JSON list of TelegramAccount)"
    )
    sms_accounts: list[dict[str, Any]] = Field(
        default=[], description="SMPP gateway binds and their numbers (JSON list of SmsAccount)"
    )
    web_port: int = Field(default=8000, description="alertcast web (intake API) port on 127.0.0.1")
    web_max_body_bytes: int = Field(
        default=1024 * 1024, description="largest intake body unless a source sets its own"
    )
    sources_file: Path | None = Field(
        default=None, description="YAML: API keys (sources:) and feed pollers (pollers:)"
    )
    sources: str = Field(
        default="", description="same YAML/JSON inline; its entries replace the file's by name"
    )
    pollers: str = Field(default="", description="YAML/JSON with a pollers: list, added to sources_file's")
    charter_dir: Path | None = Field(
        default=None, description="the body's own charter lexicons (YAML), added to the shipped ones"
    )
    languagetool_url: str = Field(
        default="",
        description="LanguageTool server checking grammar and spelling, e.g. http://127.0.0.1:8081 "
        "(empty: not used; spelling then uses the offline word lists)",
    )
    languagetool_port: int = Field(
        default=8081, description="port on 127.0.0.1 of the LanguageTool server `alertcast demo` starts"
    )
    users_file: Path | None = Field(default=None, description="YAML: console users and roles")
    users: str = Field(default="", description="same YAML/JSON inline; replaces the file's users by name")
    session_key: SecretStr = Field(
        default=SecretStr(""), description="secret for session cookies and CSRF tokens"
    )
    session_key_file: Path | None = Field(default=None, description="a file holding that secret")
    replies_poll_s: float = Field(
        default=60.0, ge=0, description="how often the leader worker reads replies (0: never)"
    )
    email_reply_accounts: list[dict[str, Any]] = Field(
        default=[],
        description="IMAP mailboxes where replies to alert e-mails arrive (JSON list of ImapAccount)",
    )
    replies_routing_file: Path | None = Field(
        default=None,
        description="YAML: which competent service answers citizens' replies (alertcast.replies.routing); "
        "none: the shipped alertcast/replies/routing.yaml",
    )
    replies_sla: dict[str, Any] = Field(
        default={},
        description="the replies' 72-hour circuit (JSON of alertcast.replies.sla.SlaPolicy: first_response, "
        "next_response, warn_before in seconds or ISO 8601, business_hours, observe_holidays, subdivision); "
        "empty: 72 h, warned 12 h before",
    )
    communes_file: Path | None = Field(
        default=None,
        description="the body's communes with positions (CSV: code,name,departement,lat,lon[,wkt]) that "
        "alerts' areas are matched against for subscriptions; none: the shipped sample (tests, demo)",
    )
    subscription_silence_days: int = Field(
        default=90, ge=1, description="a subscription never seen for this long expires (dead push endpoints)"
    )
    vapid_private_key: SecretStr = Field(
        default=SecretStr(""),
        description="Web Push VAPID private key (PEM, or the 32-byte key in base64url); prefer the file",
    )
    vapid_private_key_file: Path | None = Field(
        default=None,
        description="file (0600) holding the VAPID private key, made by `alertcast vapid new FILE`",
    )
    vapid_subject: str = Field(
        default="", description="VAPID contact sent to push services: mailto:address or https:// URL"
    )
    subscription_secret: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC key of the subscribers' confirm and unsubscribe links, at least 32 bytes (a "
        "new key breaks every link already sent); none: the public subscribe endpoints are off",
    )
    subscription_secret_file: Path | None = Field(
        default=None, description="a file (a secret mount) holding that key, instead of the variable"
    )
    subscribe_base_url: str = Field(
        default="",
        description="public URL where `alertcast web` answers /subscribe (links in mails, the subscribe "
        "page's forms); empty: the site's address, a reverse proxy sending /subscribe to alertcast web",
    )
    subscribe_email_account: str = Field(
        default="", description="the e-mail account (a name in email_accounts) sending confirmation mails"
    )
    digest_hour: int | None = Field(
        default=7,
        ge=0,
        le=23,
        description="local hour (ALERTCAST_TIMEZONE) of the daily e-mail digest to subscribers who chose "
        "it, listing the last 24 hours' alerts of their areas; `off` (or empty): no digest is sent",
    )
    subscribe_rate_per_minute: int = Field(
        default=10,
        ge=1,
        description="subscribe, confirm and unsubscribe requests a minute from one client address "
        "(commune searches: ten times that)",
    )
    session_ttl_s: int = Field(default=8 * 3600, description="a console session lasts this long")
    cookie_secure: bool = Field(default=False, description="Secure cookies (set behind HTTPS)")
    policy_file: Path | None = Field(default=None, description="approval policy (YAML); none: auto")
    rota_file: Path | None = Field(
        default=None,
        description="the duty rota (YAML): who is on duty when, per service, with a backup, and how "
        "each person is called; none: nobody is called when a draft waits",
    )
    duty_secret: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC key (at least 32 bytes) of the acknowledgement links in duty calls; none: the "
        "calls link to the draft only",
    )
    duty_secret_file: Path | None = Field(
        default=None, description="a file (a secret mount) holding that key, instead of the variable"
    )
    console_base_url: str = Field(
        default="",
        description="public address of `alertcast web`, for the links in duty calls; empty: "
        "http://127.0.0.1:<web_port>",
    )
    decision_wait_s: float = Field(
        default=5.0, description="how long a console decision waits for the worker"
    )
    http_timeout_s: float = 10.0
    timezone: str = Field(
        default="Europe/Paris", description="the body's time zone (IANA), for times on pages and in texts"
    )
    language: str = Field(
        default="",
        description="the language of the CLI's human lines (fr, en); empty: the POSIX locale's "
        "(LC_ALL, LC_MESSAGES, LANG: fr_FR.UTF-8 is French), else English",
    )
    log_level: str = "info"
    cache_dir: Path = Field(default=Path.home() / ".cache" / "alertcast")
    kafka_dir: Path = Field(default=Path(".alertcast") / "kafka", description="local broker data and logs")
    kafka_port: int = 9092

    @field_validator("digest_hour", mode="before")
    @classmethod
    def _digest_off(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip().lower() in ("", "off", "none") else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """Refused at start, not at the first page: a typo would otherwise stop the site writer."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: give an IANA name such as Europe/Paris or Indian/Reunion"
            ) from None
        return value

    def subscription_key(self) -> bytes | None:
        """The subscribers' links' HMAC key (see `hmac_key`)."""
        return hmac_key(
            self.subscription_secret, self.subscription_secret_file, "ALERTCAST_SUBSCRIPTION_SECRET"
        )

    def duty_key(self) -> bytes | None:
        """The duty calls' links' HMAC key (see `hmac_key`)."""
        return hmac_key(self.duty_secret, self.duty_secret_file, "ALERTCAST_DUTY_SECRET")

    def sla_policy(self) -> SlaPolicy:
        """The replies' circuit, the same for the console's inbox and the worker's warnings."""
        from alertcast.replies.sla import SlaPolicy

        return SlaPolicy.model_validate(self.replies_sla)

    def console_url(self) -> str:
        """Where people reach the console from a duty call's link."""
        return (self.console_base_url or f"http://127.0.0.1:{self.web_port}").rstrip("/")

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


def hmac_key(inline_secret: SecretStr, path: Path | None, variable: str) -> bytes | None:
    """An HMAC key of signed links from `variable` or from the file `<variable>_FILE` names
    (not both: two sources could hold two keys); None when neither is set. A file that cannot
    be read, or a key shorter than SECRET_BYTES, raises ConfigurationError, which never quotes
    the key (even one too short is someone's secret)."""
    inline = inline_secret.get_secret_value().encode()
    if inline and path is not None:
        raise ConfigurationError(f"give {variable} or {variable}_FILE, not both")
    if path is not None:
        try:
            inline = path.read_bytes().strip()
        except OSError as error:
            raise ConfigurationError(f"cannot read {variable}_FILE {path}: {error.strerror}") from None
    if inline and len(inline) < SECRET_BYTES:
        raise ConfigurationError(
            f"{variable}{'_FILE ' + str(path) if path else ''} must be at least {SECRET_BYTES} bytes: "
            "a short HMAC key can be guessed offline from one link"
        )
    return inline or None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
