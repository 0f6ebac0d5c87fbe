"""The bulletin as a document: canonical JSON, print-ready Chinese HTML (A4) and PDF.

HTML comes from a Jinja2 template with autoescaping on, so no text from data (ids, names)
can become markup; charts are SVG drawn by pygal and embedded as data URIs; the PDF is
WeasyPrint's rendering of the same HTML with the Noto CJK fonts (Debian fonts-noto-cjk).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import pygal
from pygal.style import Style

from hallwatch.calendar import CHINA_TZ
from services.projections import names
from services.projections.figures import FIGURES

AUTHORITY = "市政务服务和数字化管理局"
UNPUBLISHED = "（未发布稿）"
UNIT_LABELS = {"hall": "分厅", "department": "部门", "window": "窗口", "staff": "工作人员",
               "matter": "事项"}
SCOPE_NAMES = {"hall": "各分厅", "department": "各部门", "window": "各窗口",
               "staff": "窗口工作人员", "matter": "各事项"}
FONT = "Noto Sans CJK SC, sans-serif"
CHART_ROWS = 20
_KEYS = {"hall": ("hall_id",), "department": ("department_id",),
         "window": ("hall_id", "window_id"), "staff": ("hall_id", "staff_id"),
         "matter": ("matter_code",)}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True, undefined=jinja2.StrictUndefined)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _delta(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f}个百分点"


def _signed(value: int | None) -> str:
    if value is None:
        return "—"
    return f"↑{value}" if value > 0 else (f"↓{-value}" if value < 0 else "—")


_env.filters.update(pct=_pct, num=_num, delta=_delta, signed=_signed)


def label(row: dict[str, Any], scope: str) -> str:
    """How a row is named in the document: the directory's names, ids where it has none
    (``names.label``)."""
    return names.label(row, scope)


def _named(items: list[dict[str, Any]], rows: list[dict[str, Any]], scope: str
           ) -> list[dict[str, Any]]:
    """List entries (keys and score) with the names of their rows."""
    by_key = {tuple(r.get(k) for k in _KEYS[scope]): r for r in rows}
    out = []
    for item in items:
        row = by_key.get(tuple(item.get(k) for k in _KEYS[scope]), {})
        merged = {"name": row.get("name"), "hall_name": row.get("hall_name"), **item}
        out.append({**merged, "label": label(merged, scope)})
    return out


def summary(report: dict[str, Any], document_no: str = UNPUBLISHED) -> list[str]:
    """The summary paragraphs, generated from the figures: totals, then problems, naming
    the units concerned."""
    scope, total = report["scope"], report["totals"]
    unit = UNIT_LABELS[scope]
    rows = report["rows"]
    period = report["period"]["label"]
    trend = report.get("trend") or []
    before = trend[-2]["on_time_rate"] if len(trend) >= 2 else None
    change = ("" if before is None or total["on_time_rate"] is None
              else f"（环比{_delta(round(total['on_time_rate'] - before, 4))}）")
    first = (f"{period}，纳入统计的{unit}共{len(rows)}个，受理办件{total['accepted']}件"
             f"（即办件{total['accepted_immediate']}件、承诺件{total['accepted_promised']}件），"
             f"办结{total['decided']}件，按时办结率{_pct(total['on_time_rate'])}{change}，"
             f"承诺件提前办结率{_pct(total['early_rate'])}，"
             f"超期未办结{total['overdue_open']}件、超期办结{total['overdue_closed']}件；"
             f"收到评价{total['ratings']}件，满意率{_pct(total['satisfaction_rate'])}，"
             f"投诉{total['complaints']}件。")
    problems = []
    for key, what in (("overdue_open", "存在超期未办结办件"), ("red_cards", "被亮红牌"),
                      ("one_time_notice_breaches", "违反一次性告知制度"),
                      ("uncovered_posts", "出现空岗"), ("extensions_unapproved", "未经审批延期"),
                      ("late_reports", "存在事后补录（疑似体外循环）"),
                      ("bad_reviews", "收到差评")):
        named = [f"{label(r, scope)}（{r[key]}{'次' if key != 'overdue_open' else '件'}）"
                 for r in rows if r[key]]
        if named:
            problems.append(f"{what}的{unit}：{'、'.join(named)}")
    second = ("经电子监察发现以下问题：" + "；".join(problems) + "。") if problems else \
        "本期电子监察未发现超期、红牌或违规问题。"
    red = "、".join(r["label"] for r in _named(report["red_list"], rows, scope)) or "无"
    black = "、".join(r["label"] for r in _named(report["black_list"], rows, scope)) or "无"
    third = (f"依据综合评分（{report['scoring']['version']}），列入红榜的{unit}：{red}；"
             f"列入黑榜的{unit}：{black}。请相关{unit}对照问题限期整改。")
    return [first, second, third]


def _svg_uri(chart: Any) -> str:
    svg = chart.render(disable_xml_declaration=False)
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


def _style() -> Style:
    return Style(font_family=FONT, background="white", plot_background="white",
                 title_font_size=16, label_font_size=11, major_label_font_size=11,
                 legend_font_size=11, value_font_size=10)


def charts(report: dict[str, Any]) -> dict[str, str]:
    """Two SVG charts as data URIs: rates per unit, and the trend of the last periods."""
    scope = report["scope"]
    rows = [r for r in report["rows"] if r["rank"] is not None][:CHART_ROWS]
    bars = pygal.Bar(style=_style(), width=900, height=360, js=[], range=(0, 100),
                     title=f"{UNIT_LABELS[scope]}按时办结率与满意率（%）", x_label_rotation=30,
                     legend_at_bottom=True)
    bars.x_labels = [label(r, scope) for r in rows]
    for key, name in (("on_time_rate", "按时办结率"), ("satisfaction_rate", "满意率")):
        bars.add(name, [None if r[key] is None else round(r[key] * 100, 1) for r in rows])
    line = pygal.Line(style=_style(), width=900, height=320, js=[], range=(0, 100),
                      title="近期趋势（%）", legend_at_bottom=True)
    line.x_labels = [p["label"] for p in report["trend"]]
    for key, name in (("on_time_rate", "按时办结率"), ("early_rate", "提前办结率"),
                      ("satisfaction_rate", "满意率")):
        line.add(name, [None if p[key] is None else round(p[key] * 100, 1)
                        for p in report["trend"]])
    return {"rates": _svg_uri(bars), "trend": _svg_uri(line)}


def html(report: dict[str, Any], document_no: str = UNPUBLISHED,
         authority: str = AUTHORITY) -> str:
    scope = report["scope"]
    rows = [{**r, "label": label(r, scope)} for r in report["rows"]]
    listed = {name: _named(report[name], report["rows"], scope)
              for name in ("red_list", "black_list")}
    appraisal = report.get("appraisal")
    if appraisal is not None:
        appraisal = {**appraisal, **{part: [
            {**r, "label": label(r, "staff"),
             "not_clean": [FIGURES[k].zh for k in r.get("not_clean", ())]}
            for r in appraisal[part]] for part in ("honour_roll", "staff")}}
    issued = datetime.fromisoformat(report["as_of"]).astimezone(CHINA_TZ).date()
    return _env.get_template("bulletin.html.j2").render(
        title=f"关于{report['period']['label']}{SCOPE_NAMES[scope]}政务服务情况的通报",
        authority=authority, document_no=document_no, unit_label=UNIT_LABELS[scope],
        summary=summary(report, document_no), rows=rows, charts=charts(report),
        red_list=listed["red_list"], black_list=listed["black_list"], appraisal=appraisal,
        directory_version=report.get("directory_version"),
        issued_on=f"{issued.year}年{issued.month}月{issued.day}日",
        scoring_version=report["scoring"]["version"], as_of=report["as_of"],
        scoring_min_accepted=report["scoring"].get("appraisal", {}).get("min_accepted"),
        positions=", ".join(f"{k}={v}" for k, v in report["positions"].items()))


def pdf(report: dict[str, Any], document_no: str = UNPUBLISHED,
        authority: str = AUTHORITY) -> bytes:
    import weasyprint  # imported here: loading Pango is slow and only PDFs need it

    return bytes(weasyprint.HTML(string=html(report, document_no, authority)).write_pdf())


def as_json(report: dict[str, Any]) -> bytes:
    return json.dumps(report, ensure_ascii=False, sort_keys=True, indent=1).encode()


def render(report: dict[str, Any], kind: str, document_no: str = UNPUBLISHED) -> bytes:
    """The bulletin as bytes in ``kind`` (json, html or pdf)."""
    if kind == "json":
        return as_json(report)
    if kind == "html":
        return html(report, document_no).encode()
    if kind == "pdf":
        return pdf(report, document_no)
    raise ValueError(f"unknown format {kind!r}")
