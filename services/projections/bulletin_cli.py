"""``hallwatch bulletin``: a bulletin from the ClickHouse views to a file.

The views are read as the projection service left them (the positions they reached are in
the JSON and printed on the document)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

FORMATS = ("json", "html", "pdf")


def add_parser(sub: Any) -> None:
    """Add ``bulletin`` to the ``hallwatch`` subcommands."""
    from services.projections.bulletin import SCOPES

    text = "write the bulletin (定期通报) of a named period as JSON, HTML or PDF"
    p = sub.add_parser("bulletin", help=text, description=text)
    p.add_argument("--period", required=True, help="2026-W47, 2026-11, 2026-Q4, 2026-H2, 2026")
    p.add_argument("--scope", default="hall", choices=SCOPES,
                   help="rows per hall, department, window, staff or matter (default: hall); "
                   "a year per staff adds the annual appraisal (绩效考评, 光荣榜)")
    p.add_argument("--format", default="json", choices=FORMATS,
                   help="json (default), html or pdf")
    p.add_argument("--out", required=True, help="file to write ('-' for standard output)")
    p.set_defaults(func=cmd_bulletin)


def cmd_bulletin(settings: Any, args: argparse.Namespace) -> None:
    from services.common.clickhouse import connect
    from services.projections.bulletin import Bulletins, UnknownScope
    from services.projections.document import render
    from services.projections.periods import parse
    from services.projections.views import Views

    try:
        period = parse(args.period)
    except ValueError as error:
        sys.exit(f"hallwatch bulletin: --period: {error}")
    views = Views(connect(settings.clickhouse_url))
    try:
        report = Bulletins(views.client).bulletin(period, args.scope, settings.now()())
    except UnknownScope as error:
        sys.exit(f"hallwatch bulletin: --scope: {error}")
    finally:
        views.client.close()
    body = render(report, args.format)
    if args.out == "-":
        sys.stdout.buffer.write(body)
    else:
        Path(args.out).write_bytes(body)
        print(f"wrote {args.out}: {period.label} per {args.scope}, {args.format}, "
              f"{len(body)} bytes")
