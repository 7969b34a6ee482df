"""Which channels exist, built once from the settings (only configured adapters are imported)."""

from __future__ import annotations

from alertcast.channels.base import Channel
from alertcast.clock import clock
from alertcast.errors import ConfigurationError
from alertcast.http import make_client
from alertcast.render.length import CHANNELS
from alertcast.settings import Settings


class UnknownChannel(ConfigurationError, ValueError):
    pass


def build_channels(settings: Settings) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    for name in settings.channels:
        if name == "website":
            from alertcast.channels.website import WebsiteChannel

            channels[name] = WebsiteChannel(settings.site_dir, clock.now, settings.site_base_url)
        elif name == "webhook":
            from alertcast.channels.webhook import WebhookChannel, accounts_from

            channels[name] = WebhookChannel(
                accounts_from(settings.webhook_urls),
                make_client(settings.http_timeout_s),
                settings.webhook_secret,
                unsigned=settings.webhook_unsigned,
            )
        elif name == "matrix":
            from alertcast.channels.matrix import MatrixAccount, MatrixChannel

            channels[name] = MatrixChannel(
                [MatrixAccount.model_validate(a) for a in settings.matrix_accounts],
                make_client(settings.http_timeout_s),
            )
        elif name == "email":
            from alertcast.channels.email import EmailAccount, EmailChannel

            channels[name] = EmailChannel([EmailAccount.model_validate(a) for a in settings.email_accounts])
        elif name == "mastodon":
            from alertcast.channels.mastodon import MastodonAccount, MastodonChannel

            channels[name] = MastodonChannel(
                [MastodonAccount.model_validate(a) for a in settings.mastodon_accounts],
                make_client(settings.http_timeout_s),
            )
        elif name == "bluesky":
            from alertcast.channels.bluesky import BlueskyAccount, BlueskyChannel

            channels[name] = BlueskyChannel(
                [BlueskyAccount.model_validate(a) for a in settings.bluesky_accounts],
                make_client(settings.http_timeout_s),
            )
        elif name == "x":
            from alertcast.channels.x import XAccount, XChannel

            channels[name] = XChannel(
                [XAccount.model_validate(a) for a in settings.x_accounts],
                make_client(settings.http_timeout_s),
            )
        elif name == "facebook":
            from alertcast.channels.facebook import FacebookAccount, FacebookChannel

            channels[name] = FacebookChannel(
                [FacebookAccount.model_validate(a) for a in settings.facebook_accounts],
                make_client(settings.http_timeout_s),
            )
        elif name == "telegram":
            from alertcast.channels.telegram import TelegramAccount, TelegramChannel

            channels[name] = TelegramChannel(
                [TelegramAccount.model_validate(a) for a in settings.telegram_accounts],
                make_client(settings.http_timeout_s),
            )
        elif name == "webpush":
            from alertcast.channels.webpush import WebPushChannel
            from alertcast.subscriptions.vapid import check_subject, load_key

            channels[name] = WebPushChannel(
                make_client(settings.http_timeout_s),
                load_key(settings),
                check_subject(settings.vapid_subject),
                settings.site_base_url,
            )
        elif name == "email_subscribers":
            from alertcast.channels.email_subscribers import from_settings

            channels[name] = from_settings(settings)
        elif name == "sms":
            from alertcast.channels.sms import SmsAccount, SmsChannel

            channels[name] = SmsChannel([SmsAccount.model_validate(a) for a in settings.sms_accounts])
        elif name in CHANNELS:
            raise UnknownChannel(f"channel {name!r} has no adapter yet; configured: ALERTCAST_CHANNELS")
        else:
            raise UnknownChannel(f"unknown channel {name!r}; known channels: {', '.join(CHANNELS)}")
    return channels
