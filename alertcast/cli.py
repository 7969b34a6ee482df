"""`alertcast`: the front door. Exit codes: 0 clean, 1 warnings, 2 input refused, 64 usage error.

Human lines are said in ALERTCAST_LANGUAGE, else in the POSIX locale's language (LANG=fr_FR.UTF-8
is French), else in English (`i18n.terminal_language`); JSON output is the same in every one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from alertcast.i18n import speaker, terminal_language
from alertcast.settings import get_settings

if TYPE_CHECKING:
    from alertcast.channels.base import AccountHealth, Channel

EXIT_OK, EXIT_WARNINGS, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2, 64


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _kafka_args(parser: argparse.ArgumentParser) -> None:
    settings = get_settings()
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=settings.kafka_dir,
        help="broker data and logs (default: %(default)s; ALERTCAST_KAFKA_DIR)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=settings.kafka_port,
        help="first broker port on 127.0.0.1 (default: %(default)s)",
    )
    parser.add_argument("--brokers", type=int, default=1, help="number of KRaft nodes (default: 1)")


def _actions(parser: argparse.ArgumentParser) -> Any:
    return parser.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)


def _pauses(args: argparse.Namespace, _: Callable[..., str]) -> int:
    from alertcast import pausing

    settings = get_settings()
    if args.action == "paused":
        switches, held = pausing.board(settings).active(), pausing.held(settings)
        for pause in switches:
            at = f"{pause.at:%Y-%m-%d %H:%M:%S}Z"
            print(
                _(
                    "paused %(scope)s by %(person)s at %(at)s: %(reason)s",
                    scope=pause.scope,
                    person=pause.by,
                    at=at,
                    reason=pause.reason,
                )
                if pause.reason
                else _("paused %(scope)s by %(person)s at %(at)s", scope=pause.scope, person=pause.by, at=at)
            )
        if not switches:
            print(_("no pause: deliveries go out"))
        for channel, count in sorted(held.items()):
            print(_("held %(channel)s: %(count)s deliveries", channel=channel, count=count))
        return EXIT_OK
    if args.account and not args.channel:
        print(
            _("error: --account needs --channel (an account is paused within its channel)"), file=sys.stderr
        )
        return EXIT_USAGE
    pause = pausing.switch(settings, args.action == "pause", args.channel, args.account, args.by, args.reason)
    if pause.paused:
        print(
            _(
                "paused %(scope)s by %(person)s: its deliveries wait until `alertcast deliveries resume`",
                scope=pause.scope,
                person=pause.by,
            )
        )
    else:
        print(
            _(
                "resumed %(scope)s by %(person)s: held deliveries go out (unless another pause holds them)",
                scope=pause.scope,
                person=pause.by,
            )
        )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="alertcast", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    kafka = commands.add_parser("kafka", help="the local Kafka broker (real, KRaft, 127.0.0.1)")
    kafka_commands = _actions(kafka)
    up = kafka_commands.add_parser("up", help="install (once) and start the broker, wait until it answers")
    _kafka_args(up)
    _kafka_args(kafka_commands.add_parser("down", help="stop the broker by its PID and wait for it to exit"))
    _kafka_args(kafka_commands.add_parser("status", help="say whether the broker runs, and where"))

    lt = commands.add_parser("languagetool", help="the local LanguageTool server (grammar, spelling)")
    lt_commands = _actions(lt)
    for action, text in (
        ("up", "install (once) and start LanguageTool on 127.0.0.1, wait until it has checked fr and en"),
        ("down", "stop LanguageTool by its PID and wait for it to exit"),
        ("status", "say whether LanguageTool runs, and where"),
    ):
        lt_action = lt_commands.add_parser(action, help=text)
        lt_action.add_argument("--data-dir", type=Path, default=Path(".alertcast") / "languagetool")
        lt_action.add_argument(
            "--port", type=int, default=None, help="port on 127.0.0.1 (default: ALERTCAST_LANGUAGETOOL_PORT)"
        )

    vapid = commands.add_parser("vapid", help="the VAPID key pair that signs Web Push messages")
    vapid_commands = _actions(vapid)
    vapid_new = vapid_commands.add_parser(
        "new", help="make a key pair: the private key into FILE (0600, never replaced), the public printed"
    )
    vapid_new.add_argument("file", type=Path, metavar="FILE")
    vapid_public = vapid_commands.add_parser(
        "public", help="print the applicationServerKey of FILE, or of the configured key"
    )
    vapid_public.add_argument("file", type=Path, nargs="?", metavar="FILE")

    communes = commands.add_parser("communes", help="the official list of French communes (Etalab)")
    _actions(communes).add_parser("install", help="fetch it once into the cache (npm); read offline after")

    topics = commands.add_parser("topics", help="declarative topics (topics/*.yaml)")
    topics_commands = _actions(topics)
    topics_commands.add_parser("apply", help="create missing topics, report differing ones")
    schemas = topics_commands.add_parser(
        "schemas", help="write the messages' JSON Schemas to topics/schemas/"
    )
    schemas.add_argument("--check", action="store_true", help="exit 1 if the files are not current")

    commands.add_parser("worker", help="run the Faust worker (all agents) until stopped")

    channels = commands.add_parser("channels", help="the configured channel accounts")
    channels_commands = _actions(channels)
    channels_commands.add_parser(
        "check", help="verify every account without posting (credentials, right to post, limits)"
    )

    deliveries = commands.add_parser("deliveries", help="deliveries that need a person; pause switches")
    deliveries_commands = _actions(deliveries)
    resolve = deliveries_commands.add_parser(
        "resolve",
        help="settle a dead, unknown or paused delivery: it was posted (with its link), post it again, "
        "or drop it",
    )
    resolve.add_argument("delivery_key", metavar="KEY", help="alert:version:channel:account, as in receipts")
    decision = resolve.add_mutually_exclusive_group(required=True)
    decision.add_argument("--posted", metavar="URL", help="it was posted, here")
    decision.add_argument("--post-again", action="store_true", help="post it again")
    decision.add_argument("--drop", action="store_true", help="do not post it (it stays recorded as dropped)")
    resolve.add_argument("--by", help="who decides (default: your login)")
    for verb, what in (("pause", "hold deliveries until resumed"), ("resume", "let held deliveries go out")):
        command = deliveries_commands.add_parser(verb, help=f"{what}: everything, a channel or one account")
        command.add_argument("--channel", help="only this channel (website, mastodon...); default: all")
        command.add_argument("--account", help="only this account of --channel")
        command.add_argument("--reason", default="", help="why (kept in the audit log)")
        command.add_argument("--by", help="who (default: your login)")
    deliveries_commands.add_parser("paused", help="the active pause switches and the deliveries they hold")

    subscribers = commands.add_parser("subscribers", help="a citizen's subscriptions, on their request")
    subscribers_commands = subscribers.add_subparsers(dest="action", required=True)
    for verb, text in (
        ("export", "print as JSON everything held about one subscriber"),
        ("delete", "erase every subscription of one subscriber (audited, without the address)"),
    ):
        command = subscribers_commands.add_parser(verb, help=text)
        command.add_argument("who", help="the subscriber's e-mail address or push endpoint URL")
        if verb == "delete":
            command.add_argument("--by", help="who erases (default: your login), for the audit")

    users = commands.add_parser("users", help="console users")
    users_commands = _actions(users)
    users_commands.add_parser("hash", help="read a password twice (not echoed), print its argon2id hash")

    submit = commands.add_parser("submit", help="validate incident files locally, then produce them to Kafka")
    submit.add_argument("files", nargs="+", type=Path, metavar="FILE")
    submit.add_argument("--source", default="cli", help="source name recorded with each incident")

    web = commands.add_parser("web", help="the intake API and the console (ASGI, uvicorn on 127.0.0.1)")
    web.add_argument("--port", type=int, default=None, help="default: ALERTCAST_WEB_PORT")
    web_commands = web.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    openapi = web_commands.add_parser("openapi", help="write deploy/openapi.json from the models")
    openapi.add_argument("--check", action="store_true", help="exit 1 if the file is not current")
    keys = commands.add_parser("keys", help="API keys of intake sources")
    keys_commands = _actions(keys)
    new = keys_commands.add_parser("new", help="make a key; print it once, and its config entry")
    new.add_argument("name")

    check = commands.add_parser(
        "check", help="offline: each channel's text, its length and the charter's findings"
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.add_argument("--channel", help="only this channel (x, mastodon, sms...)")
    check.add_argument("--lang", help="only texts in this language (fr, en...)")

    parse = commands.add_parser(
        "parse", help="offline: detect each file's format and print its incidents as JSON, or why not"
    )
    parse.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parse.add_argument("--source", default="cli", help="source name recorded with each incident")

    demo = commands.add_parser("demo", help="broker, topics, worker, public site and example incidents")
    demo.add_argument("--site-dir", type=Path, default=Path(".alertcast") / "demo-site")
    demo.add_argument("--port", type=int, default=8080, help="public site port on 127.0.0.1")
    demo.add_argument("--web-port", type=int, default=8000, help="intake API and console port on 127.0.0.1")
    demo.add_argument(
        "--wall-port", type=int, default=8090, help="the wall (every network's post) on 127.0.0.1"
    )
    demo.add_argument("--no-wait", action="store_true", help="exit once the examples are published")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    language = terminal_language(settings.language)
    _ = speaker(language)
    if args.command == "kafka":
        from alertcast import kafka

        try:
            if args.action == "up":
                kafka.up(args.data_dir, settings.cache_dir, args.port, args.brokers)
            elif args.action == "down":
                stopped = kafka.down(args.data_dir, args.port, args.brokers)
                print(
                    _("stopped broker pid(s) %(pids)s", pids=", ".join(map(str, stopped)))
                    if stopped
                    else _("no broker running")
                )
            else:
                states = kafka.running(args.data_dir, args.port, args.brokers)
                for node, pid in states:
                    print(
                        _(
                            "broker %(node)s: running (pid %(pid)s) on %(bootstrap)s, "
                            "data %(data)s, log %(log)s",
                            node=node.node_id,
                            pid=pid,
                            bootstrap=node.bootstrap,
                            data=node.data_dir,
                            log=node.log_file,
                        )
                        if pid
                        else _("broker %(node)s: not running", node=node.node_id)
                    )
                return EXIT_OK if all(pid for _, pid in states) else EXIT_WARNINGS
        except kafka.KafkaError as error:
            print(_("error: %(error)s", error=error), file=sys.stderr)
            return EXIT_REFUSED
        return EXIT_OK
    if args.command == "vapid":
        from alertcast.subscriptions import vapid

        try:
            if args.action == "new":
                key = vapid.generate_key_file(args.file)
                print(key.application_server_key)
                print(
                    _("# set ALERTCAST_VAPID_PRIVATE_KEY_FILE=%(path)s", path=args.file.resolve()),
                    file=sys.stderr,
                )
            else:
                key = vapid.load_key_file(args.file) if args.file else vapid.load_key(settings)
                print(key.application_server_key)
        except vapid.VapidError as error:
            print(_("error: %(error)s", error=error), file=sys.stderr)
            return EXIT_REFUSED
        return EXIT_OK
    if args.command == "communes":
        from alertcast import communes

        try:
            installed = communes.install(settings.cache_dir)
            count = len(communes.load(settings.cache_dir))
            print(_("communes: %(path)s (%(count)s communes)", path=installed, count=count))
        except communes.CommunesMissing as error:
            print(_("error: %(error)s", error=error), file=sys.stderr)
            return EXIT_REFUSED
        return EXIT_OK
    if args.command == "languagetool":
        from alertcast import languagetool

        args.port = args.port or settings.languagetool_port
        try:
            if args.action == "up":
                server = languagetool.up(args.data_dir, settings.cache_dir, args.port)
                print(
                    _("set ALERTCAST_LANGUAGETOOL_URL=%(url)s for the worker, web and check", url=server.url)
                )
            elif args.action == "down":
                pid = languagetool.down(args.data_dir, args.port)
                print(
                    _("stopped LanguageTool pid %(pid)s", pid=pid) if pid else _("LanguageTool not running")
                )
            else:
                server, pid = languagetool.running(args.data_dir, args.port)
                print(
                    _(
                        "LanguageTool: running (pid %(pid)s) on %(url)s, log %(log)s",
                        pid=pid,
                        url=server.url,
                        log=server.log_file,
                    )
                    if pid
                    else _("LanguageTool: not running")
                )
                return EXIT_OK if pid else EXIT_WARNINGS
        except languagetool.LanguageToolError as error:
            print(_("error: %(error)s", error=error), file=sys.stderr)
            return EXIT_REFUSED
        return EXIT_OK
    if args.command == "topics":
        if args.action == "schemas":
            from alertcast import topic_schemas

            stale = topic_schemas.write(check=args.check)
            for path in stale:
                print(_("stale %(path)s", path=path) if args.check else _("wrote %(path)s", path=path))
            return EXIT_WARNINGS if args.check and stale else EXIT_OK
        from alertcast import topics

        for line in topics.apply(settings.bootstrap, settings.topic_prefix).lines():
            print(line)
        return EXIT_OK
    if args.command == "worker":
        from alertcast.channels.webhook import WebhookConfigError
        from alertcast.stream.versions import StreamGuardError, require_python_stream

        try:
            from alertcast.stream.worker import run  # builds the channels: their settings are checked

            require_python_stream()  # the versions and overrides were checked by the import
        except (WebhookConfigError, StreamGuardError) as error:
            print(_("error: %(error)s", error=error), file=sys.stderr)
            return EXIT_REFUSED
        run()
        return EXIT_OK
    if args.command == "channels":
        import asyncio

        from alertcast.channels.checkup import table
        from alertcast.channels.registry import build_channels
        from alertcast.channels.webhook import WebhookConfigError

        try:
            built = build_channels(settings)
        except WebhookConfigError as error:
            print(_("error: %(error)s", error=error), file=sys.stderr)
            return EXIT_REFUSED
        results = asyncio.run(_check_and_close(built))
        print(table(results))
        return EXIT_OK if all(r.ok for r in results) else EXIT_REFUSED
    if args.command == "deliveries":
        if args.action != "resolve":
            return _pauses(args, _)
        from alertcast.delivery.ledger import Resolution
        from alertcast.resolve import NotFound, resolve

        choice = (
            Resolution.POST_AGAIN
            if args.post_again
            else Resolution.DROP
            if args.drop
            else Resolution.WAS_POSTED
        )
        try:
            resolve(settings, args.delivery_key, choice, args.posted, args.by)
        except NotFound as error:
            print(_("error: %(error)s", error=error), file=sys.stderr)
            return EXIT_REFUSED
        print(
            _(
                "%(key)s: %(choice)s sent to the workers; its receipt will follow",
                key=args.delivery_key,
                choice=choice.value,
            )
        )
        return EXIT_OK
    if args.command == "subscribers":
        from alertcast.subscribers import delete_subscriber, export_subscriber, exported_json

        if args.action == "export":
            print(exported_json(export_subscriber(settings, args.who)))
            return EXIT_OK
        erased = delete_subscriber(settings, args.who, args.by)
        print(
            _("%(count)s subscription(s) erased: %(ids)s", count=len(erased), ids=", ".join(erased))
            if erased
            else _("%(count)s subscription(s) erased", count=0)
        )
        return EXIT_OK
    if args.command == "users":
        import getpass

        from alertcast.web.console.auth import hash_password

        first, second = getpass.getpass(_("password: ")), getpass.getpass(_("again: "))
        if not first or first != second:
            print(_("the passwords are empty or differ"), file=sys.stderr)
            return EXIT_REFUSED
        print(hash_password(first))
        return EXIT_OK
    if args.command == "submit":
        from alertcast.submit import submit_files

        return submit_files(args.files, settings, args.source, language=language)
    if args.command == "web":
        from alertcast.web.app import serve, write_openapi

        if args.action == "openapi":
            outdated = write_openapi(check=args.check)
            if not outdated:
                print(_("%(path)s is current", path="deploy/openapi.json"))
            else:
                print(
                    _("stale %(path)s", path="deploy/openapi.json")
                    if args.check
                    else _("wrote %(path)s", path="deploy/openapi.json")
                )
            return EXIT_WARNINGS if args.check and outdated else EXIT_OK
        serve(settings, args.port or settings.web_port)
        return EXIT_OK
    if args.command == "keys":
        from alertcast.web.keys import new_key

        try:
            made = new_key(args.name)
        except ValueError as error:
            print(_("error: %(error)s", error=error), file=sys.stderr)
            return EXIT_USAGE
        print(
            _("key for %(name)s (shown once, give it to the source): %(key)s", name=made.name, key=made.key)
        )
        print(made.yaml_entry(), end="")
        return EXIT_OK
    if args.command == "check":
        from alertcast.render.check import check_command

        return check_command(
            args.files, args.channel, args.lang, charter_dir=settings.charter_dir, language=language
        )
    if args.command == "parse":
        from alertcast.submit import parse_files

        return parse_files(args.files, args.source, language=language)
    if args.command == "demo":
        from alertcast.demo import run_demo
        from alertcast.kafka import KafkaError

        try:
            return run_demo(
                settings,
                args.site_dir,
                args.port,
                args.web_port,
                wait=not args.no_wait,
                wall_port=args.wall_port,
            )
        except KafkaError as error:
            print(_("error: %(error)s", error=error), file=sys.stderr)
            return EXIT_REFUSED
    raise AssertionError(args.command)


async def _check_and_close(channels: dict[str, Channel]) -> list[AccountHealth]:
    """Check, then close the clients in the same event loop (their connections belong to it)."""
    from alertcast.channels.checkup import check_all

    try:
        return await check_all(channels)
    finally:
        await _close(channels)


async def _close(channels: dict[str, Channel]) -> None:
    for channel in channels.values():
        await channel.aclose()


if __name__ == "__main__":
    sys.exit(main())
