"""The ``hallwatch`` command: run all services in one process, or one service alone.

Every process is built by the composition root (services/system.py); this module only
parses the command line, reads the settings and runs what was built.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import logging
import secrets
import signal
import sys
import threading
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import uvicorn

from hallwatch.calendar import YearRules
from services import system
from services.common import logs
from services.common.auth import Keyring
from services.common.settings import Settings, SettingsError, load_settings
from services.common.web import create_app

log = logging.getLogger("hallwatch")
Command = Callable[[Settings, argparse.Namespace], None]

STORE = ("data_dir", "event_store", "cipher_key", "chain_key", "chain_key_file", "clock",
         "log_level")
KAFKA = ("kafka_bootstrap", "consumer_group", "instance_id", "poll_seconds", "batch_size")
# Which settings each command reads (its --help lists them with their defaults).
NOTIFY = ("smtp_url", "smtp_from", "notify_secrets_file", "notify_attempts",
          "notify_backoff_seconds", "notify_timeout_seconds")
READS = {
    "serve": tuple(Settings.model_fields),
    "intake": (*STORE, "keys", "case_prefixes", "summer_start", "winter_start", "time_floor"),
    "relay": (*STORE, "kafka_bootstrap", "hall_topic", "poll_seconds"),
    "supervision": (*STORE, *KAFKA, "hall_topic", "alerts_topic", "keys", "rules_file",
                    *NOTIFY),
    "projections": ("data_dir", "clickhouse", "clock", *KAFKA, "hall_topic", "alerts_topic",
                    "keys", "time_floor", "log_level"),
    "calendar load": (*STORE, "summer_start", "winter_start"),
    "directory load": STORE,
}


def _run(built: system.System, args: argparse.Namespace) -> None:
    """Start the process's loops, serve its routes (if any) until a signal, then close."""
    built.start()
    try:
        if built.routers or getattr(args, "port", None):  # a relay serves only health
            app = create_app(*built.routers, keys=Keyring.of(built.settings))
            # log_config=None: uvicorn's lines go through the process's JSON set-up too.
            uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                        log_config=None)
        else:
            stop = threading.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            stop.wait()
    finally:
        built.close()


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    built = system.serve(settings)
    mode = "embedded" if settings.embedded else "kafka"
    print(f"hallwatch serving on http://{args.host}:{args.port} ({mode})", flush=True)
    _run(built, args)


def cmd_intake(settings: Settings, args: argparse.Namespace) -> None:
    _run(system.intake(settings), args)


def cmd_relay(settings: Settings, args: argparse.Namespace) -> None:
    _require_kafka(settings)
    built = system.relay(settings)
    print(f"relay publishing to {settings.hall_topic} from position "
          f"{built.relays[0].position()}", flush=True)
    _run(built, args)


def cmd_supervision(settings: Settings, args: argparse.Namespace) -> None:
    _require_kafka(settings)
    _run(system.supervision(settings), args)


def cmd_projections(settings: Settings, args: argparse.Namespace) -> None:
    if getattr(args, "action", "serve") == "rebuild":
        # Replay the stores into shadow tables, then swap them in (reads keep answering).
        print(f"rebuilt the views up to {system.rebuild_projections(settings)}")
        return
    _require_kafka(settings)
    _run(system.projections(settings), args)


def cmd_calendar_load(settings: Settings, args: argparse.Namespace) -> None:
    try:
        rules = YearRules.from_dict(json.loads(Path(args.file).read_text()))
    except (OSError, ValueError) as error:
        sys.exit(f"hallwatch calendar load: {args.file}: {error}")
    store = system.hall_store(settings)
    recomputed = store.load_calendar_year(rules, loaded_by="cli")
    store.close()
    print(f"loaded {rules.version}; recomputed {len(recomputed)} provisional deadlines")


def cmd_verify(settings: Settings, args: argparse.Namespace) -> None:
    from services.intake.audit import verify_command

    sys.exit(verify_command(settings, args.case))


def cmd_directory_load(settings: Settings, args: argparse.Namespace) -> None:
    from hallwatch.errors import InvalidEvent
    from services.common.directories import record
    from services.intake import directory

    try:
        document = directory.check(json.loads(Path(args.file).read_text()))
    except (OSError, ValueError) as error:
        sys.exit(f"hallwatch directory load: {args.file}: {error}")
    except InvalidEvent as error:
        sys.exit(f"hallwatch directory load: {args.file}: {error.field}: {error}")
    store = system.hall_store(settings)
    try:
        print(f"loaded directory {record(store, document, 'cli', store.clock())}")
    finally:
        store.close()


def cmd_keygen(settings: Settings | None, args: argparse.Namespace) -> None:
    print(base64.b64encode(secrets.token_bytes(32)).decode())


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> None:
    from services.common.identities import DirectoryError, add_user

    if not settings.keys_file:
        sys.exit("hallwatch user add: set HALLWATCH_KEYS_FILE to the key/user file")
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else \
        getpass.getpass(f"password for {args.name}: ")
    try:
        add_user(Path(settings.keys_file), args.name, args.role, password, args.display_name)
    except DirectoryError as error:
        sys.exit(f"hallwatch user add: {error}")
    print(f"{args.role} {args.name} written to {settings.keys_file} (argon2id)")


def _require_kafka(settings: Settings) -> None:
    if settings.embedded:
        sys.exit("HALLWATCH_KAFKA_BOOTSTRAP: must be set to run this service alone "
                 "(or use `hallwatch serve` for the embedded mode)")


def settings_help(names: tuple[str, ...]) -> str:
    """The environment variables a command reads, with their defaults and meaning."""
    lines = ["environment (a malformed value stops the command, naming the variable):"]
    for name in names:
        field = Settings.model_fields[name]
        default = field.default if field.default not in ("", None) else "(empty)"
        lines.append(f"  HALLWATCH_{name.upper():<16} default {default}")
        lines.append(f"      {field.description}")
    return "\n".join(lines)


def _version() -> str:
    try:
        return version("hallwatch")
    except PackageNotFoundError:
        return "unknown"


def parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    top = argparse.ArgumentParser(
        prog="hallwatch", description=__doc__, formatter_class=formatter,
        epilog="Settings come from HALLWATCH_* environment variables; each command's "
               "--help lists those it reads.")
    top.add_argument("--version", action="version", version=f"hallwatch {_version()}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    services: list[tuple[str, Command, int, str]] = [
        ("serve", cmd_serve, 8000, "run every service in one process: embedded (SQLite, "
         "chDB, the store's log) with no Kafka configured, else intake, relays, supervision "
         "and projections over Kafka"),
        ("intake", cmd_intake, 8001, "the HTTP intake of hall events (POST /v1/events) "
         "over the event store"),
        ("projections", cmd_projections, 8002, "the ClickHouse views of the hall and alerts "
         "topics and the read API (needs Kafka)"),
        ("supervision", cmd_supervision, 8003, "judge the hall topic into alerts, raise "
         "timers as they come due, publish alerts (needs Kafka)"),
    ]
    for name, func, port, text in services:
        p = sub.add_parser(name, help=text, description=text, formatter_class=formatter,
                           epilog=settings_help(READS[name]))
        p.add_argument("--host", default="127.0.0.1",
                       help="address the HTTP server listens on (default: %(default)s)")
        p.add_argument("--port", type=int, default=port,
                       help="port the HTTP server listens on (default: %(default)s)")
        p.set_defaults(func=func)
        if name == "projections":
            p.add_argument("action", nargs="?", choices=("serve", "rebuild"), default="serve",
                           help="serve (default), or rebuild: replay the stores into shadow "
                                "tables and swap them in while reads keep answering")
    text = "publish the event store's log to the hall topic, in order (needs Kafka)"
    relay = sub.add_parser("relay", help=text, description=text, formatter_class=formatter,
                           epilog=settings_help(READS["relay"]))
    relay.add_argument("--host", default="127.0.0.1",
                       help="address of /healthz and /metrics, with --port (default: %(default)s)")
    relay.add_argument("--port", type=int, default=None,
                       help="serve /healthz and /metrics on this port (default: no HTTP)")
    relay.set_defaults(func=cmd_relay)
    text = "print a new random AES-256 key (base64) for HALLWATCH_CIPHER_KEY; reads no settings"
    sub.add_parser("keygen", help=text, description=text).set_defaults(
        func=cmd_keygen, needs_settings=False)
    text = "the working-day calendar"
    calendar = sub.add_parser("calendar", help=text, description=text).add_subparsers(
        dest="action", required=True, metavar="ACTION")
    text = ("load an official holiday notice (JSON: year, holidays, workdays, reference) and "
            "recompute the deadlines it moves")
    load = calendar.add_parser("load", help=text, description=text, formatter_class=formatter,
                               epilog=settings_help(READS["calendar load"]))
    load.add_argument("file", help="the notice as a JSON file")
    load.set_defaults(func=cmd_calendar_load)
    text = "named officials and auditors of the console"
    user = sub.add_parser("user", help=text, description=text).add_subparsers(
        dest="action", required=True, metavar="ACTION")
    text = "add a named user (password kept as an argon2 hash) to HALLWATCH_KEYS_FILE"
    add = user.add_parser("add", help=text, description=text)
    add.add_argument("name", help="the user name to sign in with")
    add.add_argument("--role", required=True, choices=["bureau", "auditor", "monitor"],
                     help="what the user may do: bureau (act), auditor (read in clear), "
                          "monitor (metrics)")
    add.add_argument("--display-name", default="", help="the person's name, e.g. 张伟")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of stdin")
    add.set_defaults(func=cmd_user_add)
    text = "recheck the hash chains (the whole log, or --case NO); exit 1 if tampered"
    verify = sub.add_parser("verify", help=text, description=text)
    verify.add_argument("--case", help="one case number (default: the whole log)")
    verify.set_defaults(func=cmd_verify)


    text = "the bureau's directory (halls, A/B posts, matter catalogue)"
    directory = sub.add_parser("directory", help=text, description=text).add_subparsers(
        dest="action", required=True)
    text = "load a directory version (schemas/directory.schema.json)"
    load = directory.add_parser("load", help=text, description=text,
                                formatter_class=formatter,
                                epilog=settings_help(READS["directory load"]))
    load.add_argument("file", help="the directory as a JSON file")
    load.set_defaults(func=cmd_directory_load)
    from services.projections.bulletin_cli import add_parser as add_bulletin
    from services.simulator.command import add_subcommand

    add_bulletin(sub)
    add_subcommand(sub)
    return top


def main(argv: list[str] | None = None) -> None:
    logs.configure()  # JSON lines; kafka-python at WARNING (services/common/logs.py)
    args = parser().parse_args(argv)
    if not getattr(args, "needs_settings", True):
        args.func(None, args)
        return
    try:
        settings = load_settings()
    except SettingsError as error:
        sys.exit(f"hallwatch: invalid settings: {error}")
    logs.configure(settings.log_level)
    args.func(settings, args)


if __name__ == "__main__":
    main()
