"""The seed city as a model: each working day, applicants arrive at every hall along a
daily curve, and each case's whole story (notice, acceptance, supplements, clock stops,
extensions, decision, delivery, rating) is planned at arrival; posts, inquiries,
complaints and after-hours service are planned per day. Violations happen at the
configured rates. Everything is drawn from a random generator seeded by (seed, day,
hall), so a seed gives the same city every time.

Planned events carry two moments: ``time``, when the action happened (the event's
``time``), and ``send_at``, when the hall system reports it (later for a late report;
never before an earlier event of the same case).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from typing import Any

from hallwatch.calendar import CHINA_TZ, WorkCalendar
from hallwatch.office_hours import MORNING, SUMMER_AFTERNOON, WINTER_AFTERNOON, Seasons
from services.simulator.directory import Hall, Matter, Window
from services.simulator.people import applicant

TYPE_PREFIX = "cn.gov.hall."
# Cases per working day at scale 1 (the seed city's busiest halls first).
VOLUMES = {"main": 80, "traffic": 60, "realestate": 40, "social-insurance": 40,
           "medical-insurance": 30, "housing-fund": 30, "employment": 20}
DEFAULT_VOLUME = 30
# Relative arrival intensity across a morning / afternoon session, by thirds.
MORNING_CURVE = (0.6, 1.0, 0.7)
AFTERNOON_CURVE = (0.7, 0.9, 0.5)


@dataclass(frozen=True)
class Rates:
    """How often things happen; violations are shares of the cases (or posts, halls)
    they can happen to. Override with ``--rates name=value,...``."""

    immediate_weight: float = 3.0  # an immediate matter is this much more asked for
    notice: float = 0.10  # promised cases opened by a one-time notice
    second_notice: float = 0.25  # noticed cases later asked for something new (violation)
    tolerance: float = 0.35  # cases of tolerance-list matters accepted with items missing
    supplement_late: float = 0.15  # tolerance cases never supplemented -> returned
    suspension: float = 0.05  # promised cases with a special procedure
    uninformed_suspension: float = 0.2  # ... without written notice (violation)
    extension: float = 0.05  # promised cases extended
    unapproved_extension: float = 0.3  # extensions without approving leader (violation)
    late_extension: float = 0.2  # extensions after the due time (violation)
    unnotified_extension: float = 0.1  # extensions the applicant was not told (violation)
    late_completion: float = 0.04  # promised cases decided after the due day (violation)
    immediate_next_day: float = 0.01  # immediate cases completed the next day (violation)
    rejection: float = 0.03
    incomplete_rejection: float = 0.25  # rejections missing basis, number or rights
    withdrawal: float = 0.01
    delivery: float = 0.7  # promised completions with a recorded delivery
    rating: float = 0.4
    bad_review: float = 0.08  # ratings of 4 or 5
    unrectified: float = 0.3  # bad reviews never rectified (violation)
    late_report: float = 0.01  # cases whose decision is reported days late (violation)
    absence: float = 0.15  # windows with a short absence, per day
    uncovered_absence: float = 0.1  # ... with no B post covering (violation)
    absence_overrun: float = 0.1  # ... back later than announced (violation)
    complaint: float = 0.1  # halls receiving a complaint, per day
    complaint_overdue: float = 0.2  # complaints resolved too late (violation)
    after_hours: float = 0.2  # halls staying open past closing, per day
    inquiries: float = 6.0  # first inquiries per hall per day (a mean count)

    @classmethod
    def parse(cls, text: str) -> Rates:
        """``name=value,...`` over the defaults; ValueError names a bad entry."""
        rates = cls()
        names = {f.name for f in fields(cls)}
        for item in (p.strip() for p in text.split(",") if p.strip()):
            name, _, value = item.partition("=")
            if name not in names:
                raise ValueError(f"unknown rate {name!r} (one of {', '.join(sorted(names))})")
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"rate {name}: {value!r} is not a number") from None
            counts = name in ("immediate_weight", "inquiries")
            if number < 0 or (not counts and number > 1):
                raise ValueError(f"rate {name}: must be between 0 and 1")
            rates = replace(rates, **{name: number})
        return rates


@dataclass(frozen=True, order=True)
class Planned:
    send_at: datetime
    order: int
    time: datetime
    hall_id: str
    envelope: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.envelope["type"]).removeprefix(TYPE_PREFIX)


def _iso(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).replace(microsecond=0).isoformat()


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:  # normal approximation; Knuth's product underflows for large means
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


class City:
    """Plans the events of one day at a time (call :meth:`plan_day` in date order)."""

    def __init__(self, halls: list[Hall], seed: int, rates: Rates | None = None,
                 scale: float = 1.0, calendar: WorkCalendar | None = None,
                 seasons: Seasons | None = None) -> None:
        self.halls = halls
        self.seed = seed
        self.rates = rates or Rates()
        self.scale = scale
        self.calendar = calendar or WorkCalendar()
        self.seasons = seasons or Seasons()
        self._order = 0

    # -- time helpers --------------------------------------------------------------

    def sessions(self, day: date) -> list[tuple[datetime, datetime]]:
        """The office-hours sessions of a working day (measures art. 11)."""
        afternoon = SUMMER_AFTERNOON if self.seasons.is_summer(day) else WINTER_AFTERNOON
        return [(datetime.combine(day, a, CHINA_TZ), datetime.combine(day, b, CHINA_TZ))
                for a, b in (MORNING, afternoon)]

    def closing(self, day: date) -> datetime:
        return self.sessions(day)[1][1]

    def in_hours(self, rng: random.Random, day: date) -> datetime:
        """A moment during office hours, following the daily curve."""
        pieces = []
        for (start, end), curve in zip(self.sessions(day), (MORNING_CURVE, AFTERNOON_CURVE),
                                       strict=True):
            third = (end - start) / 3
            pieces += [(start + third * i, third, weight) for i, weight in enumerate(curve)]
        weights = [weight * length.total_seconds() for _, length, weight in pieces]
        begin, length, _ = rng.choices(pieces, weights=weights)[0]
        return begin + timedelta(seconds=int(rng.random() * length.total_seconds()))

    def workday_after(self, day: date, n: int) -> date:
        return self.calendar.add_working_days(day, n).day

    def later_in_hours(self, rng: random.Random, after: datetime, days: int) -> datetime:
        """A moment in office hours ``days`` working days after ``after``'s day (the same
        day for 0), strictly after ``after``."""
        day = after.astimezone(CHINA_TZ).date()
        target = self.workday_after(day, days) if days else day
        moment = self.in_hours(rng, target)
        if moment <= after:
            moment = after + timedelta(minutes=rng.randint(3, 30))
        return moment

    # -- planning ------------------------------------------------------------------

    def plan_day(self, day: date, not_before: datetime | None = None) -> list[Planned]:
        """Every event of the stories that begin on ``day`` (none on a day off)."""
        if not self.calendar.is_workday(day):
            return []
        planned: list[Planned] = []
        for hall in self.halls:
            rng = random.Random(f"{self.seed}/{day.isoformat()}/{hall.id}")
            day_plan = _HallDay(self, hall, day, rng)
            for story in day_plan.stories():
                if not_before is None or story[0][0] >= not_before:
                    planned.extend(self._stamp(hall.id, story))
        return planned

    def _stamp(self, hall_id: str, story: list[tuple[datetime, dict[str, Any], float]]
               ) -> list[Planned]:
        """Planned events of one story; ``delay`` hours postpone a report and every later
        report of the story (a hall never reports a case out of order)."""
        out, floor = [], None
        for moment, envelope, delay_hours in story:
            send = moment + timedelta(hours=delay_hours)
            if floor is not None and send < floor:
                send = floor
            floor = send
            self._order += 1
            out.append(Planned(send, self._order, moment, hall_id, envelope))
        return out


Story = list[tuple[datetime, dict[str, Any], float]]


class _HallDay:
    """One hall's stories of one day."""

    def __init__(self, city: City, hall: Hall, day: date, rng: random.Random) -> None:
        self.city, self.hall, self.day, self.rng = city, hall, day, rng
        self.rates = city.rates
        self.tag = f"{hall.id}-{day:%Y%m%d}-{city.seed}"
        self.count = 0
        self.absent: dict[str, tuple[datetime, datetime, str | None]] = {}

    def event(self, kind: str, subject: str, moment: datetime, data: dict[str, Any],
              ident: str) -> dict[str, Any]:
        return {"specversion": "1.0", "id": ident, "source": f"/halls/{self.hall.id}",
                "type": TYPE_PREFIX + kind, "subject": subject, "time": _iso(moment),
                "datacontenttype": "application/json", "data": data}

    def next_id(self, what: str) -> str:
        self.count += 1
        return f"{self.tag}-{what}{self.count:04d}"

    def stories(self) -> list[Story]:
        stories = self.absences()
        weekday_factor = {0: 1.2, 4: 0.9}.get(self.day.weekday(), 1.0)
        volume = VOLUMES.get(self.hall.id, DEFAULT_VOLUME) * self.city.scale * weekday_factor
        arrivals = sorted(self.city.in_hours(self.rng, self.day)
                          for _ in range(_poisson(self.rng, volume)))
        if self.hall.matters:
            weights = [self.rates.immediate_weight if m.kind == "immediate" else 1.0
                       for m in self.hall.matters]
            for moment in arrivals:
                matter = self.rng.choices(self.hall.matters, weights=weights)[0]
                stories.append(self.case(matter, moment))
            if self.rng.random() < self.rates.after_hours:
                stories.extend(self.after_hours())
        stories.extend(self.inquiries())
        if self.rng.random() < self.rates.complaint:
            stories.append(self.complaint())
        return stories

    # -- who serves ----------------------------------------------------------------

    def serving(self, moment: datetime) -> tuple[Window, str]:
        window = self.rng.choice(self.hall.windows)
        away = self.absent.get(window.id)
        if away and away[0] <= moment < away[1]:
            if away[2]:
                return window, away[2]  # the B post covers
            others = [w for w in self.hall.windows if w.id != window.id]
            if others:  # nobody at this window: the applicant goes to the next one
                window = self.rng.choice(others)
        return window, window.a_post

    def absences(self) -> list[Story]:
        """Short absences (临时不在岗): B post covers, or nobody (violation); back on time
        or late (violation)."""
        stories = []
        for window in self.hall.windows:
            if self.rng.random() >= self.rates.absence:
                continue
            leave = self.city.in_hours(self.rng, self.day)
            expected = leave + timedelta(minutes=self.rng.randint(10, 30))
            covered = self.rng.random() >= self.rates.uncovered_absence
            if self.rng.random() < self.rates.absence_overrun:
                back = expected + timedelta(minutes=self.rng.randint(25, 60))
            else:
                back = expected - timedelta(minutes=self.rng.randint(0, 5))
            substitute = window.b_post if covered else None
            self.absent[window.id] = (leave, back, substitute)
            noticed = {"window_id": window.id, "staff_id": window.a_post,
                       "reason": self.rng.choice(("临时外出送件", "部门会议", "身体不适就医",
                                                  "业务培训")),
                       "expected_return": _iso(expected)}
            if covered:
                noticed["substitute_staff_id"] = window.b_post
            stories.append([
                (leave, self.event("post.absence_noticed", window.id, leave, noticed,
                                   self.next_id("absent")), 0.0),
                (back, self.event("post.resumed", window.id, back,
                                  {"window_id": window.id, "staff_id": window.a_post},
                                  self.next_id("back")), 0.0)])
        return stories

    # -- cases ---------------------------------------------------------------------

    def case(self, matter: Matter, arrival: datetime, after_hours: bool = False) -> Story:
        case_no = self.next_id("C")
        window, staff = self.serving(arrival)
        story = _CaseStory(self, case_no, matter, window, staff)
        if matter.kind == "immediate":
            story.immediate(arrival, after_hours)
        else:
            story.promised(arrival)
        return story.events

    def after_hours(self) -> list[Story]:
        """Staying past closing (延时服务): a few immediate cases, and the record of it."""
        immediate = [m for m in self.hall.matters if m.kind == "immediate"]
        if not immediate:
            return []
        start = self.city.closing(self.day)
        end = start + timedelta(minutes=self.rng.randint(30, 50))
        window = self.rng.choice(self.hall.windows)
        stories, numbers = [], []
        for index in range(self.rng.randint(1, 3)):
            arrival = start + timedelta(minutes=2 + 8 * index)
            story = self.case(self.rng.choice(immediate), arrival, after_hours=True)
            numbers.append(story[0][1]["subject"])
            stories.append(story)
        record = {"staff_id": window.a_post, "window_id": window.id, "start": _iso(start),
                  "end": _iso(end), "by_appointment": self.rng.random() < 0.3,
                  "case_numbers": numbers}
        stories.append([(end, self.event("service.after_hours", window.id, end, record,
                                         self.next_id("late")), 0.0)])
        return stories

    # -- other hall records ----------------------------------------------------------

    def inquiries(self) -> list[Story]:
        stories = []
        for _ in range(_poisson(self.rng, self.rates.inquiries)):
            moment = self.city.in_hours(self.rng, self.day)
            window, staff = self.serving(moment)
            topic = (self.rng.choice(self.hall.matters).name + "办理条件咨询"
                     if self.hall.matters else "办事指南咨询")
            outcome = self.rng.choices(("answered", "handled", "referred"), (6, 2, 1))[0]
            data: dict[str, Any] = {"staff_id": staff, "topic": topic, "outcome": outcome,
                                    "channel": 1}
            if outcome == "referred":
                data["referred_to"] = "市政务服务中心综合咨询台"
            stories.append([(moment, self.event("inquiry.recorded", window.id, moment, data,
                                                self.next_id("ask")), 0.0)])
        return stories

    def complaint(self) -> Story:
        moment = self.city.in_hours(self.rng, self.day)
        window = self.rng.choice(self.hall.windows)
        number = self.next_id("TS")
        received = {"complaint_no": number,
                    "channel": self.rng.choice(("hotline_12342", "comment_book", "online",
                                                "onsite")),
                    "about": f"窗口 {window.id}",
                    "content": self.rng.choice(("等候时间过长", "工作人员态度生硬",
                                                "一次性告知不清楚", "窗口离岗无人解释"))}
        late = self.rng.random() < self.rates.complaint_overdue
        resolved_at = self.city.later_in_hours(self.rng, moment, self.rng.randint(7, 9) if late
                                               else self.rng.randint(1, 4))
        return [
            (moment, self.event("complaint.received", window.id, moment, received,
                                self.next_id("ts")), 0.0),
            (resolved_at, self.event("complaint.resolved", window.id, resolved_at,
                                     {"complaint_no": number,
                                      "resolution": "已核实并整改,回访申请人",
                                      "satisfied": self.rng.random() < 0.8},
                                     self.next_id("ts")), 0.0)]


class _CaseStory:
    """The events of one case, in order."""

    def __init__(self, day: _HallDay, case_no: str, matter: Matter, window: Window,
                 staff: str) -> None:
        self.day, self.case_no, self.matter = day, case_no, matter
        self.window, self.staff = window, staff
        self.rng, self.rates, self.city = day.rng, day.rates, day.city
        self.events: Story = []
        self.step = 0
        self.delay = 0.0  # hours the hall is behind in reporting this case

    def add(self, kind: str, moment: datetime, data: dict[str, Any]) -> datetime:
        self.step += 1
        envelope = self.day.event(kind, self.case_no, moment, data, f"{self.case_no}-{self.step}")
        self.events.append((moment, envelope, self.delay))
        return moment

    @property
    def last(self) -> datetime:
        return self.events[-1][0]

    def acceptance(self, kind: str, days: int | None) -> dict[str, Any]:
        data: dict[str, Any] = {"matter_code": self.matter.code, "matter_name": self.matter.name,
                                "kind": kind, "window_id": self.window.id,
                                "staff_id": self.staff, "channel": 1,
                                "applicant": applicant(self.rng),
                                "materials": list(self.matter.materials)}
        if self.day.hall.unit_code:
            data["unit_code"] = self.day.hall.unit_code
        if days:
            data.update(promised_days=days, receipt_no=f"SL{self.case_no[-12:]}")
        return data

    def immediate(self, arrival: datetime, after_hours: bool) -> None:
        if self.rng.random() < self.rates.rejection / 2:
            self.add("case.accepted", arrival, self.acceptance("immediate", None))
            self.reject(arrival + timedelta(minutes=self.rng.randint(3, 15)))
            return
        self.add("case.accepted", arrival, self.acceptance("immediate", None))
        if not after_hours and self.rng.random() < self.rates.immediate_next_day:
            done = self.city.later_in_hours(self.rng, arrival, 1)
        else:
            done = arrival + timedelta(minutes=self.rng.randint(3, 25))
        self.complete(done, deliver=False)

    def promised(self, arrival: datetime) -> None:
        matter, rates, rng = self.matter, self.rates, self.rng
        moment = arrival
        first_notice: list[str] = []
        if rng.random() < rates.notice:
            first_notice = rng.sample(list(matter.materials), min(2, len(matter.materials)))
            self.add("case.notice_issued", moment, {
                "notice_no": f"GZ{self.case_no[-12:]}", "missing_materials": first_notice,
                "matter_code": matter.code, "staff_id": self.staff, "window_id": self.window.id})
            if rng.random() < 0.1:
                return  # the applicant never came back
            moment = self.city.later_in_hours(rng, moment, rng.randint(1, 3))
            self.add("case.materials_supplemented", moment, {"materials": first_notice})
            moment += timedelta(minutes=rng.randint(2, 10))
        accepted_on = moment.astimezone(CHINA_TZ).date()
        tolerated = bool(matter.tolerable) and rng.random() < rates.tolerance
        data = self.acceptance("promised", matter.promised_days)
        if tolerated:
            supplement_days = 5
            data.update(missing_materials=list(matter.tolerable),
                        commitment_no=f"RQ{self.case_no[-12:]}", supplement_days=supplement_days)
            data["materials"] = [m for m in matter.materials if m not in matter.tolerable]
            self.add("case.tolerance_accepted", moment, data)
            if rng.random() < rates.supplement_late:
                due = self.city.workday_after(accepted_on, supplement_days + 1)
                self.add("case.returned", self.city.in_hours(rng, due), {
                    "reason": "容缺材料逾期未补齐", "category": "supplement_overdue"})
                return
        else:
            self.add("case.accepted", moment, data)
        due_day = self.city.workday_after(accepted_on, matter.promised_days)
        if tolerated:
            by = min(rng.randint(1, 3), max(1, matter.promised_days - 1))
            self.add("case.materials_supplemented", self.city.later_in_hours(rng, self.last, by),
                     {"materials": list(matter.tolerable)})
        if first_notice and rng.random() < rates.second_notice:
            extra = [m for m in matter.materials if m not in first_notice][:1] or ["补充说明材料"]
            self.add("case.notice_issued", self.city.later_in_hours(rng, self.last, 0), {
                "notice_no": f"GZ{self.case_no[-11:]}2", "missing_materials": extra,
                "matter_code": matter.code, "staff_id": self.staff, "window_id": self.window.id})
            self.add("case.materials_supplemented", self.city.later_in_hours(rng, self.last, 1),
                     {"materials": extra})
        roll = rng.random()
        if roll < rates.withdrawal:
            self.add("case.withdrawn", self.city.later_in_hours(rng, self.last, 1),
                     {"reason": "申请人主动撤回申请"})
            return
        if roll < rates.withdrawal + rates.rejection:
            self.reject(self.city.later_in_hours(rng, self.last, 1))
            self.rate()
            return
        extra_days = 0
        if rng.random() < rates.suspension:
            start = self.city.later_in_hours(rng, self.last, 1)
            informed = rng.random() >= rates.uninformed_suspension
            suspended: dict[str, Any] = {
                "procedure": rng.choice(("site_survey", "expert_review", "testing", "hearing")),
                "reason": "依法需要现场核查", "applicant_informed": informed,
                "expected_days": 3}
            if informed:
                suspended["notice_no"] = f"TB{self.case_no[-12:]}"
            self.add("case.suspended", start, suspended)
            stopped = rng.randint(2, 5)
            self.add("case.resumed", self.city.later_in_hours(rng, start, stopped),
                     {"result": "核查完毕"})
            extra_days += stopped
        late = rng.random() < rates.late_completion
        if rng.random() < rates.extension:
            after_due = rng.random() < rates.late_extension
            approved = rng.random() >= rates.unapproved_extension
            days = rng.randint(5, 10)
            when_day = (self.city.workday_after(due_day, extra_days + 1) if after_due
                        else self.city.workday_after(due_day, max(0, extra_days - 1)))
            when = max(self.city.in_hours(rng, when_day), self.last + timedelta(minutes=5))
            extension: dict[str, Any] = {
                "extra_days": days, "reason": "案情复杂,需进一步审查",
                "applicant_notified": rng.random() >= rates.unnotified_extension}
            if approved:
                extension["approved_by"] = "分管副局长"
                extra_days += days
            self.add("case.extended", when, extension)
        span = max(1, matter.promised_days + extra_days)
        on_day = (self.city.workday_after(accepted_on, span + rng.randint(1, 3)) if late
                  else self.city.workday_after(accepted_on, rng.randint(max(1, span // 3), span)))
        done = max(self.city.in_hours(rng, on_day), self.last + timedelta(minutes=10))
        if rng.random() < rates.late_report:
            self.delay = rng.uniform(26, 72)
        self.complete(done, deliver=rng.random() < rates.delivery)

    def complete(self, moment: datetime, deliver: bool) -> None:
        data: dict[str, Any] = {"result": "approved", "staff_id": self.staff}
        if self.matter.kind == "promised":
            data.update(certificate_name=self.matter.name + "决定书",
                        certificate_no=f"ZZ{self.case_no[-12:]}")
        self.add("case.completed", moment, data)
        if deliver:
            method = self.rng.choice(("window", "express", "online"))
            delivered: dict[str, Any] = {"method": method}
            if method == "express":
                delivered["tracking_no"] = f"EMS{self.rng.randrange(10**10):010d}"
            self.add("case.delivered", self.city.later_in_hours(self.rng, moment,
                                                                self.rng.randint(0, 3)),
                     delivered)
        self.rate()

    def reject(self, moment: datetime) -> None:
        data: dict[str, Any] = {"category": self.rng.choice(("non_compliant", "out_of_scope")),
                                "reason": "申请材料不符合法定条件",
                                "legal_basis": self.matter.legal_basis,
                                "notice_no": f"BY{self.case_no[-12:]}", "materials_returned": True,
                                "review_rights_told": True}
        if self.rng.random() < self.rates.incomplete_rejection:
            del data[self.rng.choice(("legal_basis", "notice_no", "review_rights_told"))]
        self.add("case.rejected", moment, data)

    def rate(self) -> None:
        if self.rng.random() >= self.rates.rating:
            return
        bad = self.rng.random() < self.rates.bad_review
        grade = self.rng.choice((4, 5)) if bad else self.rng.choices((1, 2, 3), (6, 3, 1))[0]
        rated = self.add("case.rated", self.last + timedelta(minutes=self.rng.randint(5, 90)), {
            "satisfaction": grade, "channel": self.rng.choice((1, 3)),
            "comment": "办事效率有待提高" if bad else "服务热情"})
        if bad and self.rng.random() >= self.rates.unrectified:
            self.add("case.rating_rectified", self.city.later_in_hours(self.rng, rated,
                                                                       self.rng.randint(1, 4)),
                     {"action": "核实情况,约谈窗口人员并回访申请人", "revisited": True,
                      "staff_id": self.window.a_post})
