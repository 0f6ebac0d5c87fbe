// The bureau's console. Plain script, no build step. Every text that comes from data is
// inserted as a text node (el() below), never as HTML. The session is an HttpOnly cookie
// this script never sees; a 401 from any call brings back the sign-in page.
"use strict";

// streamed: when each alert last arrived by the event stream (it is highlighted a moment).
const state = { who: null, labels: null, alerts: new Map(), halls: [], stream: null, streamed: new Map() };
const FRESH_MS = 3000;
const $ = (selector) => document.querySelector(selector);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const label = (table, code) => (state.labels && state.labels[table] && state.labels[table][code]) || (code ?? "");
const when = (text) => (text ? String(text).replace("T", " ").slice(0, 16) : "—");
const CLOSED = new Set(["resolved", "cleared", "void"]);
const HIDDEN_UNLESS_ASKED = new Set(["cleared", "void"]);

class ApiError extends Error {
  constructor(status, body) { super((body && body.detail) || String(status)); this.status = status; this.body = body; }
}

async function api(path, options = {}) {
  const init = { credentials: "same-origin", ...options, headers: { Accept: "application/json", ...(options.headers || {}) } };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.body = JSON.stringify(options.json);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (response.status === 401 && !path.startsWith("/v1/session")) {
    sessionLost();
    throw new ApiError(401, body);
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

function problemText(error) {
  if (!(error instanceof ApiError)) return "网络错误，请检查连接后重试。";
  const messages = {
    403: "当前账号无权执行此操作。",
    404: "未找到该记录。",
    409: "该预警的状态已变化，不能执行此操作；列表已刷新。",
    422: "填写的内容不符合要求",
  };
  const base = messages[error.status] || "服务暂时不可用，请稍后重试。";
  const field = error.body && error.body.field ? `（${error.body.field}）` : "";
  return error.status === 422 ? `${base}${field}。` : base;
}

// -- sign-in -------------------------------------------------------------------------

let signInMode = "password";

function showSignIn(message) {
  if (state.stream) { state.stream.close(); state.stream = null; }
  state.who = null;
  $("#app").hidden = true;
  $("#who").hidden = true;
  $("#sign-in-page").hidden = false;
  $("#sign-in-error").textContent = message || "";
}

// A request or the feed found the session gone. Only say so while the console thinks it is
// signed in: after the official signs out, late answers must not replace "signed out".
function sessionLost() {
  if (state.who) showSignIn("登录已过期或已失效，请重新登录。");
}

function setMode(mode) {
  signInMode = mode;
  for (const tab of document.querySelectorAll(".tabs button")) tab.classList.toggle("active", tab.dataset.mode === mode);
  for (const part of document.querySelectorAll("#sign-in [data-for]")) part.hidden = part.dataset.for !== mode;
}

async function signIn(event) {
  event.preventDefault();
  const form = event.target;
  const body = signInMode === "key" ? { key: form.key.value.trim() }
    : { user: form.user.value.trim(), password: form.password.value };
  if (signInMode === "key" ? !body.key : !(body.user && body.password)) {
    $("#sign-in-error").textContent = signInMode === "key" ? "请输入密钥。" : "请输入用户名和密码。";
    return;
  }
  try {
    const who = await api("/v1/session", { json: body });
    form.reset();
    await start(who);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      $("#sign-in-error").textContent = signInMode === "key" ? "密钥无效，请核对后重新输入。" : "用户名或密码错误，请重新输入。";
    } else if (error instanceof ApiError && error.status === 403) {
      $("#sign-in-error").textContent = "该账号的角色无权使用监管控制台（仅限监管局和审计人员）。";
    } else {
      $("#sign-in-error").textContent = problemText(error);
    }
  }
}

async function signOut() {
  showSignIn("已退出登录。");  // first: closes the feed and marks the console signed out
  try { await api("/v1/session", { method: "DELETE" }); } catch {
    $("#sign-in-error").textContent = "未能通知服务器退出登录，请关闭浏览器以结束会话。";
  }
}

// -- start ---------------------------------------------------------------------------

async function start(who) {
  state.who = who;
  $("#who-name").textContent = who.name;
  $("#who-role").textContent = who.role_zh;
  $("#who").hidden = false;
  $("#sign-in-page").hidden = true;
  $("#app").hidden = false;
  fillFilters();
  connectStream();
  await loadHalls(); // the alerts load once the stream is open (connectStream)
  route();
}

function fillFilters() {
  const form = $("#filters");
  const fill = (select, table) => {
    select.replaceChildren(select.options[0]);
    for (const [code, name] of Object.entries(state.labels[table])) select.append(el("option", { value: code }, name));
  };
  fill(form.rule, "rules");
  fill(form.severity, "severities");
  fill(form.status, "alert_statuses");
}

// -- halls, windows, cases (the drill-down) ------------------------------------------------

async function loadHalls() {
  let body;
  try {
    body = await api("/v1/halls");
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    body = await api("/v1/dashboard"); // before the live views existed
  }
  state.halls = body.halls || [];
  state.asOf = body.as_of;
  const select = $("#filters").hall;
  const chosen = select.value;
  select.replaceChildren(select.options[0]);
  for (const hall of state.halls) select.append(el("option", { value: hall.hall_id }, hall.name || hall.hall_id));
  select.value = chosen;
}

const hallName = (id) => { const hall = state.halls.find((h) => h.hall_id === id); return (hall && hall.name) || id; };

function crumbs(...parts) {
  const nav = $("#crumbs");
  nav.replaceChildren();
  parts.forEach(([text, href], index) => {
    if (index) nav.append(el("span", { class: "sep" }, "›"));
    nav.append(href ? el("a", { href }, text) : el("span", {}, text));
  });
}

function lights(unit) {
  return el("div", { class: "lights" },
    ["green", "yellow", "red"].map((light) => el("span", { class: `light ${light}`, title: label("lights", light) },
      `${label("lights", light)} ${unit[light] ?? 0}`)));
}

function openAlertText(counts) {
  const parts = Object.entries(counts || {}).filter(([, n]) => n).map(([severity, n]) => `${label("severities", severity)} ${n}`);
  return parts.length ? parts.join("，") : "无";
}

function unitTile(unit, title, href) {
  const bad = (unit.red || 0) + ((unit.open_alerts || {}).red || 0);
  const warn = (unit.yellow || 0) + ((unit.open_alerts || {}).yellow || 0);
  const facts = [
    ["今日到期", unit.due_today], ["已中止计时", unit.suspended], ["今日受理", unit.accepted_today],
    ["今日办结", unit.decided_today ?? unit.completed_today], ["在岗人员", unit.staff_on_post],
    ["离岗人员", unit.staff_absent], ["离岗无人顶岗", unit.posts_uncovered], ["正在延时服务", unit.after_hours_in_progress],
  ].filter(([, value]) => value !== undefined);
  return el("article", { class: `tile${bad ? " bad" : warn ? " warn" : ""}`, tabindex: "0", "data-unit": title,
    onclick: () => { location.hash = href; }, onkeydown: (e) => { if (e.key === "Enter") location.hash = href; } },
  el("h3", {}, title), lights(unit),
  el("dl", {}, facts.map(([name, value]) => [el("dt", {}, name), el("dd", {}, value ?? 0)]),
    el("dt", {}, "未处理预警"), el("dd", {}, openAlertText(unit.open_alerts))));
}

function showHalls() {
  crumbs(["全部分厅"]);
  const view = $("#view");
  view.replaceChildren(
    el("h2", {}, "分厅实时情况", el("span", { class: "tag" }, `截至 ${when(state.asOf)}`),
      el("a", { href: "#/bulletins", class: "tag" }, "定期通报")),
    state.halls.length ? el("div", { class: "tiles" }, state.halls.map((hall) =>
      unitTile(hall, hall.name || hall.hall_id, `#/hall/${encodeURIComponent(hall.hall_id)}`)))
      : el("p", { class: "muted" }, "尚无分厅数据。"));
}

async function showHall(hall) {
  crumbs(["全部分厅", "#/"], [hallName(hall)]);
  const view = $("#view");
  view.replaceChildren(el("p", { class: "muted" }, "加载中…"));
  let windows = null;
  try {
    windows = (await api(`/v1/halls/${encodeURIComponent(hall)}/windows`)).windows;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
  }
  const parts = [el("h2", {}, `${hallName(hall)} · 窗口`)];
  if (windows && windows.length) {
    parts.push(el("div", { class: "tiles" }, windows.map((w) => unitTile(w, `窗口 ${w.window_id}`,
      `#/hall/${encodeURIComponent(hall)}/window/${encodeURIComponent(w.window_id)}`))));
  } else {
    parts.push(el("p", { class: "muted" }, "暂无窗口数据。"));
  }
  parts.push(el("h3", {}, "本分厅办件"), await caseTable({ hall }));
  view.replaceChildren(...parts);
}

async function showWindow(hall, windowId) {
  crumbs(["全部分厅", "#/"], [hallName(hall), `#/hall/${encodeURIComponent(hall)}`], [`窗口 ${windowId}`]);
  $("#view").replaceChildren(el("h2", {}, `${hallName(hall)} · 窗口 ${windowId} · 办件`), await caseTable({ hall, window: windowId }));
}

async function caseTable(filters) {
  let body;
  try {
    body = await api(`/v1/cases?${new URLSearchParams({ ...filters, limit: "200" })}`);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return el("p", { class: "muted" }, "办件列表暂不可用。");
    throw error;
  }
  if (!body.cases.length) return el("p", { class: "muted" }, "暂无办件。");
  return el("table", { id: "cases" },
    el("thead", {}, el("tr", {}, ["办件编号", "事项", "窗口", "状态", "灯色", "受理时间", "办结时限"].map((h) => el("th", {}, h)))),
    el("tbody", {}, body.cases.map((c) => el("tr", { class: "link", onclick: () => { location.hash = `#/case/${encodeURIComponent(c.case_no)}`; } },
      el("td", {}, el("a", { href: `#/case/${encodeURIComponent(c.case_no)}` }, c.case_no)),
      el("td", {}, c.matter_name || c.matter_code || ""), el("td", {}, c.window_id || ""),
      el("td", {}, label("case_statuses", c.status)),
      el("td", {}, c.light && c.light !== "none" ? el("span", { class: `light ${c.light}` }, label("lights", c.light)) : "—"),
      el("td", {}, when(c.accepted_at)), el("td", {}, when(c.due_at))))));
}

async function showCase(caseNo) {
  const view = $("#view");
  view.replaceChildren(el("p", { class: "muted" }, "加载中…"));
  const [found, history, alerts] = await Promise.all([
    api(`/v1/cases/${encodeURIComponent(caseNo)}`),
    api(`/v1/cases/${encodeURIComponent(caseNo)}/history`).catch((error) => ({ events: [], error })),
    api(`/v1/alerts?${new URLSearchParams({ case: caseNo, limit: "200" })}`),
  ]);
  const hall = found.hall_id;
  const trail = [["全部分厅", "#/"], [hallName(hall), `#/hall/${encodeURIComponent(hall)}`]];
  if (found.window_id) trail.push([`窗口 ${found.window_id}`, `#/hall/${encodeURIComponent(hall)}/window/${encodeURIComponent(found.window_id)}`]);
  crumbs(...trail, [`办件 ${caseNo}`]);
  const facts = [
    ["事项", `${found.matter_name || ""}（${found.matter_code || ""}）`], ["状态", label("case_statuses", found.status)],
    ["灯色", label("lights", found.light || "none")], ["承诺时限", found.promised_days != null ? `${found.promised_days} 个工作日` : "—"],
    ["受理时间", when(found.accepted_at)], ["办结时限", when(found.due_at)], ["黄灯时间", when(found.yellow_at)],
    ["办结时间", when(found.closed_at)], ["窗口 / 人员", `${found.window_id || "—"} / ${found.staff_id || "—"}`],
  ];
  const deadline = found.deadline || {};
  const steps = deadline.steps || [];
  const calendars = (deadline.calendar || []).map((c) => (typeof c === "string" ? c : JSON.stringify(c))).join("，");
  const events = (history && (history.events || history.items)) || [];
  view.replaceChildren(
    el("h2", {}, `办件 ${caseNo}`),
    el("dl", { class: "facts" }, facts.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    el("h3", {}, "时限计算说明"),
    el("p", { class: "muted" }, `日历版本：${calendars || "—"}${found.provisional ? "（日历尚未公布，时限为暂定）" : ""}`),
    steps.length ? el("ol", { id: "steps" }, steps.map((s) => el("li", {}, typeof s === "string" ? s : stepText(s)))) : el("p", { class: "muted" }, "无"),
    el("h3", {}, "事件时间线"),
    events.length ? el("table", { id: "timeline" },
      el("thead", {}, el("tr", {}, ["序号", "事件", "发生时间（上报）", "记录时间（系统）"].map((h) => el("th", {}, h)))),
      el("tbody", {}, events.map((e) => el("tr", {}, el("td", {}, e.sequence),
        el("td", {}, e.fact ? label("events", shortType(e.fact.type)) : "时限重算（日历更新）"),
        el("td", {}, e.fact ? when(e.fact.time) : "—"), el("td", {}, when(e.recorded_at))))))
      : el("p", { class: "muted" }, history && history.error ? "无权查看事件记录。" : "无"),
    el("h3", {}, "预警、违规发现与督办记录"),
    alerts.alerts.length ? el("ol", { class: "case-alerts" }, alerts.alerts.map((a) => alertItem(a, true))) : el("p", { class: "muted" }, "无"));
}

const shortType = (type) => String(type || "").replace(/^.*\.hall\./, "").replace(/^cn\.gov\.[^.]+\./, "");

function stepText(step) {
  return Object.entries(step).map(([k, v]) => {
    const value = typeof v === "object" ? JSON.stringify(v) : k === "kind" ? label("deadline_steps", v) : v;
    return `${label("deadline_steps", k)}：${value}`;
  }).join("；");
}

// -- bulletins -------------------------------------------------------------------------

function showBulletins() {
  crumbs(["全部分厅", "#/"], ["定期通报"]);
  const month = (state.asOf || new Date().toISOString()).slice(0, 7);
  const scopes = [["hall", "按分厅"], ["department", "按部门"], ["window", "按窗口"], ["staff", "按人员"], ["matter", "按事项"]];
  const form = el("form", { class: "bulletin-form", id: "bulletin-form" },
    el("label", {}, "通报期间（如 2026-10、2026-Q3、2026-W41、2026）", el("input", { name: "period", value: month, required: "required" })),
    el("label", {}, "统计口径", el("select", { name: "scope" }, scopes.map(([v, t]) => el("option", { value: v }, t)))),
    el("button", { type: "submit", class: "primary" }, "生成通报"));
  const out = el("div", { id: "bulletin" });
  const listed = el("div", { id: "published" }, el("p", { class: "muted" }, "加载中…"));
  const scopeName = Object.fromEntries(scopes);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const period = form.period.value.trim();
    const base = `/v1/bulletins/${encodeURIComponent(period)}`;
    const query = (format) => `${base}?${new URLSearchParams({ scope: form.scope.value, format })}`;
    const links = [el("a", { href: query("html"), target: "_blank", rel: "noopener", id: "bulletin-html" }, "查看通报（网页）"), "　",
      el("a", { href: query("pdf"), id: "bulletin-pdf", download: "" }, "下载 PDF"), "　",
      el("a", { href: query("json"), target: "_blank", rel: "noopener" }, "数据（JSON）")];
    const note = el("p", { id: "publish-result", class: "muted" });
    if (state.who && state.who.role === "bureau") {
      // Publishing freezes the bulletin as it stands now under the next document number.
      const scope = form.scope.value;
      links.push("　", el("button", { type: "button", class: "primary", id: "bulletin-publish", onclick: (click) => {
        click.target.disabled = true;
        api(`${base}:publish?${new URLSearchParams({ scope })}`, { method: "POST" })
          .then((record) => { note.textContent = `已发布：${record.document_no}${record.revises ? "（修订）" : ""}`; return loadPublished(listed, scopeName); })
          .catch((error) => { note.textContent = error instanceof ApiError && error.status === 409 ? "内容与已发布的通报相同，无需重复发布。" : problemText(error); })
          .finally(() => { click.target.disabled = false; });
      } }, "发布通报"));
    }
    out.replaceChildren(el("p", {}, links), note);
  });
  $("#view").replaceChildren(el("h2", {}, "定期通报"), form, out, el("h3", {}, "已发布的通报"), listed);
  loadPublished(listed, scopeName).catch(() => { listed.replaceChildren(el("p", { class: "muted" }, "无法读取已发布的通报。")); });
}

async function loadPublished(box, scopeName) {
  const body = await api("/v1/bulletins/published");
  if (!body.publications.length) {
    box.replaceChildren(el("p", { class: "muted" }, "尚未发布通报。"));
    return;
  }
  box.replaceChildren(el("table", { id: "publications" },
    el("thead", {}, el("tr", {}, ["文号", "通报期间", "统计口径", "发布人", "发布时间", "文件"].map((h) => el("th", {}, h)))),
    el("tbody", {}, body.publications.map((p) => el("tr", { "data-publication": p.id },
      el("td", {}, p.document_no, p.revises ? "（修订）" : ""), el("td", {}, p.period), el("td", {}, scopeName[p.scope] || p.scope),
      el("td", {}, p.published_by), el("td", {}, when(p.published_at)),
      el("td", {}, el("a", { href: p.links.html, target: "_blank", rel: "noopener", class: "published-html" }, "网页"), "　",
        el("a", { href: p.links.pdf, download: "", class: "published-pdf" }, "PDF"), "　",
        el("a", { href: p.links.json, target: "_blank", rel: "noopener" }, "JSON")))))));
}

// -- the alert feed ----------------------------------------------------------------------

function filters() {
  const form = $("#filters");
  return { hall: form.hall.value, rule: form.rule.value, severity: form.severity.value, status: form.status.value, closed: form.closed.checked };
}

function shown(alert, f = filters()) {
  if (f.hall && alert.hall_id !== f.hall) return false;
  if (f.rule && alert.rule !== f.rule) return false;
  if (f.severity && alert.severity !== f.severity) return false;
  if (f.status) return alert.status === f.status;
  return f.closed || !HIDDEN_UNLESS_ASKED.has(alert.status);
}

let loads = 0;

// The list as the views have it, merged with what the stream brought meanwhile: a load
// answered late never replaces a newer state of an alert, and only the latest load counts.
async function loadAlerts() {
  const mine = ++loads;
  const issued = performance.now();
  const f = filters();
  const query = new URLSearchParams({ limit: "300" });
  for (const name of ["hall", "rule", "severity", "status"]) if (f[name]) query.set(name, f[name]);
  const body = await api(`/v1/alerts?${query}`);
  if (mine !== loads) return;
  const fresh = new Map(body.alerts.map((a) => [a.alert_id, a]));
  for (const [id, alert] of state.alerts) {
    const streamedAt = state.streamed.get(id);
    const loaded = fresh.get(id);
    if (streamedAt === undefined) continue;
    if (loaded ? (alert.version || 0) > (loaded.version || 0) : streamedAt >= issued) fresh.set(id, alert);
  }
  state.alerts = fresh;
  renderAlerts();
}

function renderAlerts() {
  const list = $("#alerts");
  const items = [...state.alerts.values()].filter((a) => shown(a))
    .sort((a, b) => (a.raised_at < b.raised_at ? 1 : a.raised_at > b.raised_at ? -1 : 0));
  list.replaceChildren(...items.map((a) => alertItem(a, false)));
  $("#alerts-empty").hidden = items.length > 0;
}

function alertItem(alert, withHistory) {
  const arrived = state.streamed.get(alert.alert_id);
  const fresh = arrived !== undefined && performance.now() - arrived < FRESH_MS;
  const bureau = state.who && state.who.role === "bureau";
  const can = {
    acknowledge: alert.status === "raised",
    notice: alert.status === "raised" || alert.status === "acknowledged",
    resolve: ["raised", "acknowledged", "noticed", "escalated"].includes(alert.status),
  };
  const meta = [el("span", {}, label("severities", alert.severity)), el("span", {}, hallName(alert.hall_id || ""))];
  if (alert.case_no) meta.push(el("a", { href: `#/case/${encodeURIComponent(alert.case_no)}` }, `办件 ${alert.case_no}`));
  if (alert.window_id) meta.push(el("span", {}, `窗口 ${alert.window_id}`));
  meta.push(el("span", {}, `发生 ${when(alert.raised_at)}`));
  if (alert.notice_due_at) meta.push(el("span", {}, `督办期限 ${when(alert.notice_due_at)}`));
  const item = el("li", { class: `alert ${alert.severity}${fresh ? " fresh" : ""}`, "data-alert": alert.alert_id, "data-rule": alert.rule, "data-status": alert.status,
    "data-streamed": arrived !== undefined ? "yes" : null },
    el("div", {}, el("span", { class: "rule" }, label("rules", alert.rule)), " ",
      el("span", { class: `status${CLOSED.has(alert.status) ? " closed" : ""}` }, label("alert_statuses", alert.status))),
    el("div", { class: "meta" }, meta));
  if (bureau && (can.acknowledge || can.notice || can.resolve)) {
    item.append(el("div", { class: "actions" }, ["acknowledge", "notice", "resolve"].filter((a) => can[a])
      .map((action) => el("button", { type: "button", "data-action": action, onclick: () => act(alert, action) }, label("actions", action)))));
  }
  if (withHistory && alert.history && alert.history.length) {
    item.append(el("ul", { class: "history" }, alert.history.map((h) => el("li", {},
      `${when(h.at)} ${label("alert_statuses", h.status)}${h.by ? `（${h.by}）` : ""}${historyNote(h)}`))));
  }
  if (withHistory) item.append(notificationsOf(alert));
  return item;
}

// The notifications of one alert (预警纠错): each delivery over each channel, as its
// attempts went. Only GET /v1/alerts/{id} has them, so they are fetched per alert.
function notificationsOf(alert) {
  const box = el("ul", { class: "notifications", "data-notifications": alert.alert_id });
  api(`/v1/alerts/${encodeURIComponent(alert.alert_id)}`).then((found) => {
    const items = (found && found.notifications) || [];
    box.replaceChildren(...items.map((n) => {
      const last = n.history[n.history.length - 1] || {};
      const parts = [`通知（${label("notify_occasions", n.occasion)}）→ ${n.kind === "email" ? "邮件" : "短信网关"} ${n.channel}`,
        `：${label("notify_statuses", n.status)}，已尝试 ${n.attempts} 次`];
      if (last.at) parts.push(`，${when(last.at)}`);
      if (last.error) parts.push(`（${last.error}）`);
      if (n.next_attempt_at) parts.push(`，下次 ${when(n.next_attempt_at)}`);
      return el("li", { "data-channel": n.channel, "data-occasion": n.occasion, "data-status": n.status }, parts.join(""));
    }));
  }).catch(() => {});
  return box;
}

function historyNote(h) {
  const notes = [];
  if (h.working_days) notes.push(`${h.working_days} 个工作日内整改`);
  if (h.due_at) notes.push(`期限 ${when(h.due_at)}`);
  for (const key of ["content", "resolution", "why"]) if (h[key]) notes.push(h[key]);
  return notes.length ? `：${notes.join("；")}` : "";
}

function connectStream() {
  if (state.stream) state.stream.close();
  const live = $("#live");
  const stream = new EventSource("/v1/stream/alerts");
  state.stream = stream;
  stream.addEventListener("ready", () => {
    // Catch up on anything raised before the stream opened (or while it was down).
    loadAlerts().then(() => { live.textContent = "实时"; }).catch(() => {});
  });
  stream.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data);
    state.alerts.set(alert.alert_id, alert);
    state.streamed.set(alert.alert_id, performance.now());
    renderAlerts();
  });
  stream.addEventListener("resync", () => loadAlerts().catch(() => {}));
  stream.onerror = () => {
    live.textContent = "连接中断，正在重连…";
    api("/v1/session").then((who) => { if (!who.signed_in) sessionLost(); }).catch(() => {});
  };
}

// -- alert actions -----------------------------------------------------------------------

function act(alert, action) {
  const dialog = $("#act");
  const form = $("#act-form");
  form.reset();
  $("#act-title").textContent = `${label("actions", action)}：${label("rules", alert.rule)}`;
  $("#act-alert").textContent = `${hallName(alert.hall_id || "")} ${alert.case_no ? `办件 ${alert.case_no}` : ""} · ${when(alert.raised_at)}`;
  $("#act-error").textContent = "";
  for (const part of form.querySelectorAll("[data-action]")) part.hidden = part.dataset.action !== action;
  form.onsubmit = async (event) => {
    event.preventDefault();
    const body = {};
    if (action === "notice") {
      const days = Number(form.working_days.value);
      if (!Number.isInteger(days) || days < 1 || days > 60) { $("#act-error").textContent = "整改时限须为 1 至 60 个工作日。"; return; }
      body.working_days = days;
      body.content = form.content.value.trim();
    } else if (action === "resolve") {
      body.resolution = form.resolution.value.trim();
      if (!body.resolution) { $("#act-error").textContent = "请填写办结说明。"; return; }
    }
    $("#act-ok").disabled = true;
    try {
      const updated = await api(`/v1/alerts/${encodeURIComponent(alert.alert_id)}/${action}`, { json: body });
      state.alerts.set(updated.alert_id, updated);
      renderAlerts();
      dialog.close();
      if (location.hash.startsWith("#/case/")) route();
    } catch (error) {
      $("#act-error").textContent = problemText(error);
      if (error instanceof ApiError && error.status === 409) loadAlerts().catch(() => {});
    } finally {
      $("#act-ok").disabled = false;
    }
  };
  dialog.showModal();
}

// -- routing -----------------------------------------------------------------------------

async function route() {
  if (!state.who) return;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  try {
    if (parts[0] === "hall" && parts[2] === "window") await showWindow(parts[1], parts[3]);
    else if (parts[0] === "hall" && parts[1]) await showHall(parts[1]);
    else if (parts[0] === "case" && parts[1]) await showCase(parts[1]);
    else if (parts[0] === "bulletins") showBulletins();
    else { await loadHalls(); showHalls(); }
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) $("#view").replaceChildren(el("p", { class: "error" }, problemText(error)));
  }
}

async function boot() {
  document.querySelectorAll(".tabs button").forEach((tab) => tab.addEventListener("click", () => setMode(tab.dataset.mode)));
  $("#sign-in").addEventListener("submit", signIn);
  $("#sign-out").addEventListener("click", signOut);
  $("#act-cancel").addEventListener("click", () => $("#act").close());
  $("#filters").addEventListener("change", () => loadAlerts().catch(() => {}));
  window.addEventListener("hashchange", route);
  state.labels = await api("/v1/labels");
  try {
    const who = await api("/v1/session");
    if (who.signed_in) await start(who);
    else showSignIn("");
  } catch (error) {
    showSignIn(problemText(error));
  }
}

boot();
