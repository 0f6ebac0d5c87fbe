"""Chinese names for the codes officials read: rules, severities, alert statuses, lights,
case statuses and event kinds. The one translation table, used by the console and the
bulletins; a code without an entry is shown as the code itself (see ``label``).
"""

from __future__ import annotations

from typing import Any

RULES: dict[str, str] = {
    "deadline.warning": "临近办结时限（黄色预警）",
    "deadline.overdue": "超过办结时限（红色预警）",
    "immediate.not_same_day": "即办件未当日办结",
    "tolerance.supplement_overdue": "容缺材料逾期未补齐",
    "notice.not_one_time": "未一次性告知需补正材料",
    "extension.unapproved": "延期未经领导批准",
    "extension.not_notified": "延期未告知申请人",
    "extension.after_due": "超过办结时限后才延期",
    "rejection.incomplete": "不予受理缺少法律依据、文书编号或救济途径告知",
    "procedure.not_informed": "特别程序未书面告知申请人",
    "procedure.overlong": "特别程序超过规定时限",
    "post.uncovered": "离岗无B角顶岗",
    "post.absence_overrun": "离岗超过预计返岗时间",
    "rating.rectification_overdue": "差评未在时限内整改",
    "complaint.overdue": "投诉未在时限内办结",
    "decision.not_delivered": "办结后未在法定期限内送达",
    "after_hours.unrecorded": "非工作时间办件无延时服务记录",
    "matter.not_in_catalogue": "目录之外事项（目录之外无审批）",
    "promise.longer_than_published": "承诺时限长于公开承诺",
    "tolerance.not_on_list": "容缺受理事项不在容缺受理清单",
    "notice.outside_published_list": "告知补正材料超出公开材料清单",
    "post.substitute_not_b": "顶岗人员非该窗口B角",
    "report.late": "事后补录（疑似体外循环）",
}

SEVERITIES: dict[str, str] = {
    "yellow": "黄色预警",
    "red": "红色预警",
    "finding": "违规发现",
}

ALERT_STATUSES: dict[str, str] = {
    "raised": "待处理",
    "acknowledged": "已签收",
    "noticed": "已督办",
    "escalated": "督办逾期（已升级）",
    "resolved": "已办结",
    "cleared": "已自动解除",
    "void": "已作废",
}

LIGHTS: dict[str, str] = {"green": "绿灯", "yellow": "黄灯", "red": "红灯",
                          "none": "不计时（已办结或未受理）"}

CASE_STATUSES: dict[str, str] = {
    "noticed": "已告知补正",
    "accepted": "已受理",
    "suspended": "已中止计时",
    "completed": "已办结",
    "delivered": "已送达",
    "rejected": "不予受理",
    "returned": "已退回",
    "withdrawn": "已撤回",
}

EVENTS: dict[str, str] = {
    "case.accepted": "受理",
    "case.tolerance_accepted": "容缺受理",
    "case.notice_issued": "一次性告知",
    "case.materials_supplemented": "补齐材料",
    "case.suspended": "中止计时",
    "case.resumed": "恢复计时",
    "case.extended": "延期",
    "case.rejected": "不予受理",
    "case.completed": "办结",
    "case.delivered": "送达",
    "case.returned": "退回",
    "case.withdrawn": "撤回",
    "case.rated": "评价",
    "case.rating_rectified": "差评整改",
    "post.absence_noticed": "离岗登记",
    "post.resumed": "返岗",
    "service.after_hours": "延时服务",
    "inquiry.recorded": "咨询登记",
    "complaint.received": "收到投诉",
    "complaint.resolved": "投诉办结",
    "liaison.reported": "业务联络人报送",
    "register.entry_recorded": "意见簿/申诉登记",
    "inspection.recorded": "考核检查",
}

ACTIONS: dict[str, str] = {"acknowledge": "签收", "notice": "督办", "resolve": "办结"}

# Notifications (预警纠错): what an alert's people are told of, and how each delivery stands.
NOTIFY_OCCASIONS: dict[str, str] = {"yellow": "黄色预警", "red": "红色预警", "notice": "督办",
                                    "red_card": "红牌（督办逾期）"}
NOTIFY_STATUSES: dict[str, str] = {"pending": "待发送", "sending": "发送中", "sent": "已送达",
                                   "given_up": "发送失败（已放弃）", "queued": "已排队",
                                   "attempt_started": "开始发送", "attempt_failed": "发送失败"}

# The parts of a deadline explanation (its steps), in the order they are shown.
DEADLINE_STEPS: dict[str, str] = {
    "kind": "步骤", "event": "依据事件", "from": "起算日", "working_days": "工作日",
    "days": "天数", "due_date": "到期日", "until": "截至", "reason": "原因",
    "base": "承诺时限", "extension": "延期", "suspension": "中止计时",
    "supplement": "补正", "calendar": "日历",
}

ROLES: dict[str, str] = {"bureau": "监管局", "auditor": "审计", "hall": "大厅系统",
                         "monitor": "运维监控"}

TABLES: dict[str, dict[str, str]] = {
    "rules": RULES, "severities": SEVERITIES, "alert_statuses": ALERT_STATUSES,
    "lights": LIGHTS, "case_statuses": CASE_STATUSES, "events": EVENTS,
    "actions": ACTIONS, "roles": ROLES, "deadline_steps": DEADLINE_STEPS,
    "notify_occasions": NOTIFY_OCCASIONS, "notify_statuses": NOTIFY_STATUSES,
}


def label(table: str, code: Any) -> str:
    """The Chinese name of ``code`` in ``table``; the code itself when it has none (a
    newer rule than this table), so nothing is ever hidden."""
    text = "" if code is None else str(code)
    return TABLES[table].get(text, text)


def as_dict() -> dict[str, dict[str, str]]:
    """Every table, for pages that translate in the browser."""
    return {name: dict(table) for name, table in TABLES.items()}
