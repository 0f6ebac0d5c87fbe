"""A case's dossier (案卷): everything an auditor needs about one case in one document —
its timeline, deadline explanation with calendar versions, alerts with their whole
lifecycle (督办 and resolutions with names), and the hash proof with how to recheck it.
JSON, HTML rendered here (every value escaped), or that HTML as PDF."""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from typing import Any

from hallwatch.calendar import CHINA_TZ
from hallwatch.case import case_id
from services.intake.store import HallStore

RECHECK = [
    "案件链 (case chain): link(n) = HMAC-SHA256(chain key, link(n-1) + SHA-256 of the "
    "event's canonical content); link(0) = 64 zeros. Recompute from the event store with the "
    "chain key and compare with each 'chain' below and with the copies in Kafka/ClickHouse.",
    "日志链 (log chain): link(p) = HMAC-SHA256(chain key, link(previous position) | p | "
    "stream | version | topic | SHA-256(stored bytes)); compare with 'log_link' below and "
    "with the heads published in ClickHouse hallwatch.chain_heads.",
    "Or run `hallwatch verify --case NO` and `hallwatch verify` (exit 1 names the first "
    "broken link), or GET /v1/audit/verify?case=NO.",
]


def build(store: HallStore, case_no: str, alerts: list[dict[str, Any]], by: str,
          unmasked: bool, now: datetime) -> dict[str, Any]:
    """The dossier as JSON-ready data; personal data in clear only if ``unmasked``."""
    history = store.history(case_no, None, unmasked=unmasked)
    proof = store.log_chain.proof(case_id(case_no))
    summary = history["summary"] or {}
    deadline = summary.get("deadline") or {}
    links = []
    for event in history["events"]:
        previous, log_link = proof.get(event["position"], (None, None))
        links.append({"sequence": event["sequence"], "position": event["position"],
                      "chain": event["chain"], "log_previous": previous,
                      "log_link": log_link})
    return {
        "case_no": case_no,
        "generated_at": now.astimezone(CHINA_TZ).isoformat(),
        "generated_by": by,
        "personal_data": "clear" if unmasked else "masked",
        "summary": {k: v for k, v in summary.items() if k != "deadline"},
        "deadline": {"calendar_versions": deadline.get("calendar", []),
                     "steps": deadline.get("steps", [])},
        "timeline": history["events"],
        "alerts": [{k: _plain(v) for k, v in a.items()} for a in alerts],
        "proof": {"verified": history["verified"],
                  "broken_at_sequence": history["broken_at_sequence"],
                  "broken_reason": history.get("broken_reason"),
                  "chain_head": history["chain_head"], "links": links,
                  "how_to_recheck": RECHECK},
    }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(CHINA_TZ).isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"<code>{escape(json.dumps(value, ensure_ascii=False))}</code>"
    return escape("" if value is None else str(value))


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html(dossier: dict[str, Any]) -> str:
    """The dossier as one self-contained HTML page (no scripts, no external assets)."""
    summary = dossier["summary"]
    proof = dossier["proof"]
    facts = "".join(f"<tr><th>{escape(k)}</th><td>{_cell(v)}</td></tr>"
                    for k, v in summary.items())
    lifecycle = [{**a, "history": a.get("history")} for a in dossier["alerts"]]
    verdict = "链校验通过 verified" if proof["verified"] else (
        f"链校验失败 broken at event {proof['broken_at_sequence']}: {proof['broken_reason']}")
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>案卷 {escape(dossier['case_no'])}</title>
<style>body{{font-family:"Noto Sans CJK SC","Noto Serif CJK SC",sans-serif;margin:2em}}
@page{{size:A4 landscape;margin:1cm}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #999;padding:2px 6px;
text-align:left;vertical-align:top}}code{{font-size:85%;word-break:break-all}}</style>
</head><body>
<h1>案卷 Case dossier {escape(dossier['case_no'])}</h1>
<p>生成时间 Generated {escape(dossier['generated_at'])} · 生成人 by
{escape(dossier['generated_by'])} · 个人信息 personal data: {escape(dossier['personal_data'])}</p>
<h2>案件摘要 Summary</h2><table>{facts}</table>
<h2>办理时限说明 Deadline</h2>
<p>日历版本 Calendar versions: {_cell(dossier['deadline']['calendar_versions'])}</p>
{_table(dossier['deadline']['steps'], _columns(dossier['deadline']['steps']))}
<h2>时间线 Timeline</h2>
{_table(dossier['timeline'], ['sequence', 'position', 'recorded_at', 'topic', 'fact',
                               'recomputed'])}
<h2>预警与督办 Alerts, 督办 and resolutions</h2>
{_table(lifecycle, ['id', 'rule', 'severity', 'status', 'raised_at', 'history'])}
<h2>哈希证明 Hash proof</h2>
<p>{escape(verdict)}; chain head <code>{escape(proof['chain_head'])}</code></p>
{_table(proof['links'], ['sequence', 'position', 'chain', 'log_previous', 'log_link'])}
<h3>如何复核 How to recheck</h3>
<ol>{''.join(f'<li>{escape(line)}</li>' for line in proof['how_to_recheck'])}</ol>
</body></html>
"""


def pdf(dossier: dict[str, Any]) -> bytes:
    """The HTML dossier printed by WeasyPrint (Chinese drawn with the Noto CJK fonts)."""
    import weasyprint  # imported here: loading Pango is slow and only PDFs need it

    return bytes(weasyprint.HTML(string=html(dossier)).write_pdf())


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for row in rows:
        seen.extend(k for k in row if k not in seen)
    return seen
