"""The ``hallwatch`` command: run all services in one process, or one service alone."""

from __future__ import annotations

import argparse
import base64
import json
import logging
import secrets
import signal
import sys
import threading
from pathlib import Path

import uvicorn
from fastapi import APIRouter

from hallwatch.calendar import YearRules
from services.common.auth import Keyring
from services.common.settings import Settings, SettingsError, load_settings
from services.common.web import create_app

log = logging.getLogger("hallwatch")


def _serve_http(routers: list[APIRouter], host: str, port: int, settings: Settings) -> None:
    app = create_app(*routers, keys=Keyring(settings.key_specs))
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    from services.common.messages import alert_message
    from services.intake.service import build as build_intake
    from services.projections.service import build as build_projections
    from services.projections.service import log_source
    from services.supervision.service import build as build_supervision

    intake = build_intake(settings)
    projections = build_projections(settings, log_app=intake.store)
    supervision = build_supervision(settings, log_app=intake.store)
    supervision.stop = projections.stop
    if settings.embedded:
        projections.follow(log_source(projections.views, supervision.app, "alerts",
                                      alert_message))
    else:
        _start_relays(settings, intake.store, supervision.app, projections.stop)
    projections.start()
    supervision.start()
    mode = "embedded" if settings.embedded else "kafka"
    print(f"hallwatch serving on http://{args.host}:{args.port} ({mode})", flush=True)
    _serve_http([intake.router, projections.router, supervision.router], args.host, args.port,
                settings)
    projections.stop.set()


def _start_relays(settings: Settings, store: object, supervision: object,
                  stop: threading.Event) -> None:
    from services.intake.relay import Relay, producer

    kafka = producer(settings.kafka_bootstrap)
    relays = []
    if store is not None:
        relays.append(Relay(store, kafka, settings.hall_topic))  # type: ignore[arg-type]
    if supervision is not None:
        relays.append(Relay.for_alerts(supervision, kafka,  # type: ignore[arg-type]
                                       settings.alerts_topic))
    for relay in relays:
        relay.start(stop, settings.poll_seconds)


def cmd_supervision(settings: Settings, args: argparse.Namespace) -> None:
    from services.supervision.service import build

    _require_kafka(settings)
    supervision = build(settings)
    _start_relays(settings, None, supervision.app, supervision.stop)
    supervision.start()
    _serve_http([supervision.router], args.host, args.port, settings)
    supervision.stop.set()


def cmd_intake(settings: Settings, args: argparse.Namespace) -> None:
    from services.intake.service import build

    _serve_http([build(settings).router], args.host, args.port, settings)


def cmd_relay(settings: Settings, args: argparse.Namespace) -> None:
    from services.intake.relay import Relay, producer
    from services.intake.store import HallStore

    _require_kafka(settings)
    stop = _stop_on_signals() if args.port is None else threading.Event()
    relay = Relay(HallStore(settings, settings.now()), producer(settings.kafka_bootstrap),
                  settings.hall_topic)
    print(f"relay publishing to {settings.hall_topic} from position {relay.position()}",
          flush=True)
    if args.port is None:
        relay.run(stop, settings.poll_seconds)
        return
    relay.start(stop, settings.poll_seconds)
    _serve_http([], args.host, args.port, settings)  # /healthz and /metrics of the relay
    stop.set()


def cmd_projections(settings: Settings, args: argparse.Namespace) -> None:
    from services.projections.service import build

    if getattr(args, "action", "serve") == "rebuild":
        from services.projections.rebuild import rebuild_from_stores

        print(f"rebuilt the views up to {rebuild_from_stores(settings)}")
        return
    _require_kafka(settings)
    projections = build(settings)
    projections.start()
    _serve_http([projections.router], args.host, args.port, settings)
    projections.stop.set()


def cmd_calendar_load(settings: Settings, args: argparse.Namespace) -> None:
    from services.intake.store import HallStore

    try:
        rules = YearRules.from_dict(json.loads(Path(args.file).read_text()))
    except (OSError, ValueError) as error:
        sys.exit(f"hallwatch calendar load: {args.file}: {error}")
    store = HallStore(settings, settings.now())
    recomputed = store.load_calendar_year(rules, loaded_by="cli")
    print(f"loaded {rules.version}; recomputed {len(recomputed)} provisional deadlines")


def cmd_directory_load(settings: Settings, args: argparse.Namespace) -> None:
    from hallwatch.errors import InvalidEvent
    from services.common.directories import record
    from services.intake import directory
    from services.intake.store import HallStore

    try:
        document = directory.check(json.loads(Path(args.file).read_text()))
    except (OSError, ValueError) as error:
        sys.exit(f"hallwatch directory load: {args.file}: {error}")
    except InvalidEvent as error:
        sys.exit(f"hallwatch directory load: {args.file}: {error.field}: {error}")
    store = HallStore(settings, settings.now())
    print(f"loaded directory {record(store, document, 'cli', store.clock())}")


def cmd_keygen(settings: Settings, args: argparse.Namespace) -> None:
    print(base64.b64encode(secrets.token_bytes(32)).decode())


def _require_kafka(settings: Settings) -> None:
    if settings.embedded:
        sys.exit("HALLWATCH_KAFKA_BOOTSTRAP: must be set to run this service alone "
                 "(or use `hallwatch serve` for the embedded mode)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hallwatch", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    for name, func, port in (("serve", cmd_serve, 8000), ("intake", cmd_intake, 8001),
                             ("projections", cmd_projections, 8002),
                             ("supervision", cmd_supervision, 8003),
                             ("relay", cmd_relay, None)):  # relay: HTTP only if --port
        p = sub.add_parser(name)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=port)
        p.set_defaults(func=func)
        if name == "projections":  # rebuild: replay the stores into shadow tables, swap
            p.add_argument("action", nargs="?", choices=("serve", "rebuild"), default="serve")
    sub.add_parser("keygen", help="print a new AES key for HALLWATCH_CIPHER_KEY"
                   ).set_defaults(func=cmd_keygen)
    calendar = sub.add_parser("calendar").add_subparsers(dest="action", required=True)
    load = calendar.add_parser("load", help="load an official holiday notice (JSON)")
    load.add_argument("file")
    load.set_defaults(func=cmd_calendar_load)
    directory = sub.add_parser("directory").add_subparsers(dest="action", required=True)
    load = directory.add_parser("load", help="load the bureau's directory (JSON)")
    load.add_argument("file")
    load.set_defaults(func=cmd_directory_load)
    from services.projections.bulletin_cli import add_parser as add_bulletin
    from services.simulator.command import add_subcommand

    add_bulletin(sub)
    add_subcommand(sub)
    return top


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # its INFO chatter drowns ours
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        sys.exit(f"hallwatch: invalid settings: {error}")
    args.func(settings, args)


if __name__ == "__main__":
    main()
