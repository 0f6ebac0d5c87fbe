"""The console in headless Chromium against a real ``hallwatch serve``: sign in, see the
hall tiles, watch an alert arrive by server-sent events, acknowledge it, drill down to
the case, open a bulletin, sign out; no errors on the page. Screenshots are kept under
the test's tmp dir (the path is printed)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from services.common.identities import add_user
from tests.builders import accepted, event
from tests.conftest import BUREAU_KEY, HALL_KEY, KEYS
from tests.e2e.browser import Browser, chromium_path
from tests.e2e.procs import Service, call, free_port, post_event, wait_for

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "zhangwei-password-1"


@pytest.fixture
def serve(tmp_path):
    keys_file = tmp_path / "keys.json"
    add_user(keys_file, "zhangwei", "bureau", PASSWORD, name="张伟")
    service = Service("serve", {"HALLWATCH_DATA_DIR": str(tmp_path / "var"),
                                "HALLWATCH_KEYS": KEYS, "HALLWATCH_KEYS_FILE": str(keys_file),
                                "HALLWATCH_CLOCK": "fixed:2026-10-12T10:00:00+08:00"},
                      tmp_path, free_port()).start()
    yield service
    service.stop()


@pytest.fixture
def browser(tmp_path):
    binary = chromium_path()
    if binary is None:
        pytest.skip("Debian chromium is not installed and cannot be (not root)")
    chromium = Browser(binary, tmp_path)
    yield chromium
    chromium.close()


def text(selector: str) -> str:
    # Parenthesised whole: `text(...).includes(...)` and `text(...) === ...` must apply to it.
    return f"((document.querySelector({json.dumps(selector)}) || {{}}).textContent || '')"


def click(selector: str) -> str:
    return f"document.querySelector({json.dumps(selector)}).click(), true"


def visible(selector: str) -> str:
    return (f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
            f"return !!e && !e.closest('[hidden]') && e.offsetParent !== null; }})()")


def test_an_official_works_an_alert_from_the_console(serve, browser, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"\nconsole screenshots: {shots}")
    post_event(serve.url, accepted("LY-1", time="2026-10-12T09:00:00+08:00"), HALL_KEY)
    post_event(serve.url, accepted("LY-2", time="2026-10-09T09:00:00+08:00",
                                   promised_days=1, window_id="W02"), HALL_KEY)
    wait_for(lambda: call(f"{serve.url}/v1/cases/LY-2", "GET", BUREAU_KEY)[0] == 200,
             what="the cases in the views")

    browser.goto(f"{serve.url}/console")
    browser.wait(visible("#sign-in"))
    assert not browser.evaluate(visible("#feed")) and not browser.evaluate(visible("#who"))
    browser.screenshot(shots / "01-sign-in.png")

    # A wrong password: a clear Chinese message, no session.
    browser.evaluate("""(() => { const f = document.querySelector('#sign-in');
        f.user.value = 'zhangwei'; f.password.value = 'not-the-password';
        f.requestSubmit(); return true; })()""")
    browser.wait(f"{text('#sign-in-error')}.includes('用户名或密码错误')")
    browser.screenshot(shots / "02-wrong-password.png")

    browser.evaluate(f"""(() => {{ const f = document.querySelector('#sign-in');
        f.user.value = 'zhangwei'; f.password.value = {json.dumps(PASSWORD)};
        f.requestSubmit(); return true; }})()""")
    browser.wait(visible("#app"))
    assert browser.evaluate(text("#who-name")) == "张伟"
    assert browser.evaluate("document.cookie") == ""  # the session is HttpOnly
    browser.wait("document.querySelectorAll('.tile').length > 0")
    assert "H1" in browser.evaluate(text(".tiles"))
    browser.wait(f"{text('#live')} === '实时'")
    browser.screenshot(shots / "03-halls.png")

    # A rejection without legal basis raises a finding: it arrives by the event stream.
    post_event(serve.url, event("case.rejected", "LY-1", "2026-10-12T09:30:00+08:00",
                                {"category": "non_compliant", "reason": "材料不符合法定形式"}),
               HALL_KEY)
    posted = time.monotonic()
    finding = "#alerts li.alert[data-rule='rejection.incomplete'][data-status='raised']"
    browser.wait(f"!!document.querySelector(\"{finding}\")", timeout=30, step=0.02)
    print(f"alert on screen {time.monotonic() - posted:.2f} s after the event was accepted")
    assert browser.evaluate(f"document.querySelector(\"{finding}\").dataset.streamed") == "yes"
    assert "不予受理缺少法律依据" in browser.evaluate(text(finding))
    browser.screenshot(shots / "04-alert-arrived.png")

    browser.evaluate(click(f"{finding} button[data-action='acknowledge']"))
    browser.wait("document.querySelector('#act').open")
    browser.evaluate(click("#act-ok"))
    browser.wait("!!document.querySelector(\"#alerts li.alert"
                 "[data-rule='rejection.incomplete'][data-status='acknowledged']\")")
    def acknowledged() -> list:
        _, body = call(f"{serve.url}/v1/alerts?rule=rejection.incomplete", "GET", BUREAU_KEY)
        return body["alerts"][0]["history"]
    assert wait_for(acknowledged, what="the acknowledgement")[0]["by"] == "张伟（zhangwei）"

    # 督办 with working days and content, from the dialog.
    noticed = "#alerts li.alert[data-rule='rejection.incomplete'][data-status='acknowledged']"
    browser.evaluate(click(f"{noticed} button[data-action='notice']"))
    browser.wait("document.querySelector('#act').open")
    browser.evaluate("""(() => { const f = document.querySelector('#act-form');
        f.working_days.value = '3'; f.content.value = '补充法律依据并重新告知';
        document.querySelector('#act-ok').click(); return true; })()""")
    browser.wait(f"!!document.querySelector(\"{finding.replace('raised', 'noticed')}\")")
    browser.screenshot(shots / "05-noticed.png")

    # Drill down: hall -> window -> case list -> case.
    browser.evaluate(click(".tile"))
    browser.wait(f"{text('#crumbs')}.includes('H1')")
    browser.wait("!!document.querySelector('#cases')")
    browser.screenshot(shots / "06-hall.png")
    if browser.evaluate("document.querySelectorAll('.tile').length > 0"):
        browser.evaluate("[...document.querySelectorAll('.tile')].find("
                         "t => t.dataset.unit.includes('W01')).click(), true")
        browser.wait(f"{text('#crumbs')}.includes('窗口 W01')")
    browser.wait("!!document.querySelector('#cases a')")
    browser.evaluate("[...document.querySelectorAll('#cases a')].find("
                     "a => a.textContent === 'LY-1').click(), true")
    browser.wait("!!document.querySelector('#timeline')")
    page = browser.evaluate(text("#view"))
    assert "办件 LY-1" in page and "受理" in page and "不予受理" in page
    assert "张伟（zhangwei）" in page and "补充法律依据并重新告知" in page
    rows = browser.evaluate("[...document.querySelectorAll('#timeline tbody tr')]"
                            ".map(r => [...r.cells].map(c => c.textContent))")
    assert [row[:3] for row in rows] == [["1", "受理", "2026-10-12 09:00"],
                                         ["2", "不予受理", "2026-10-12 09:30"]]
    assert "[object" not in page
    assert browser.evaluate("document.querySelectorAll('#steps li').length") > 0
    browser.screenshot(shots / "07-case.png")

    # The bulletin of October, as the document the bureau would print.
    browser.evaluate("location.hash = '#/bulletins', true")
    browser.wait("!!document.querySelector('#bulletin-form')")
    browser.evaluate("""(() => { const f = document.querySelector('#bulletin-form');
        f.period.value = '2026-10'; f.requestSubmit(); return true; })()""")
    browser.wait("!!document.querySelector('#bulletin-html')")
    browser.screenshot(shots / "08-bulletins.png")
    browser.goto(browser.evaluate("document.querySelector('#bulletin-html').href"))
    browser.wait("document.body.innerText.includes('通报')")
    assert "H1" in browser.evaluate("document.body.innerText")
    browser.screenshot(shots / "09-bulletin-document.png")
    browser.evaluate("history.back(), true")
    browser.wait(visible("#app"))
    browser.wait(f"{text('#live')} === '实时'")

    browser.evaluate(click("#sign-out"))
    browser.wait(visible("#sign-in"))
    assert browser.evaluate(text("#sign-in-error")) == "已退出登录。"

    # The only error the page met is the refused wrong password, answered 401.
    errors = browser.errors()
    assert len(errors) == 1 and "/v1/session" in errors[0] and "401" in errors[0], errors


@pytest.fixture
def gateway():
    from tests.receivers import Gateway

    made = Gateway().up()
    yield made
    made.down()


@pytest.fixture
def serve_notifying(tmp_path, gateway):
    keys_file = tmp_path / "keys.json"
    add_user(keys_file, "zhangwei", "bureau", PASSWORD, name="张伟")
    service = Service("serve", {"HALLWATCH_DATA_DIR": str(tmp_path / "var"),
                                "HALLWATCH_KEYS": KEYS, "HALLWATCH_KEYS_FILE": str(keys_file),
                                "HALLWATCH_NOTIFY_SECRET_SMS_TEST": "e2e-gateway-hmac-key",
                                "HALLWATCH_CLOCK": "fixed:2026-10-12T10:00:00+08:00"},
                      tmp_path, free_port()).start()
    yield service
    service.stop()


def sign_in(browser: Browser, url: str) -> None:
    browser.goto(f"{url}/console")
    browser.wait(visible("#sign-in"))
    browser.evaluate(f"""(() => {{ const f = document.querySelector('#sign-in');
        f.user.value = 'zhangwei'; f.password.value = {json.dumps(PASSWORD)};
        f.requestSubmit(); return true; }})()""")
    browser.wait(visible("#app"))


def test_the_bureau_sees_an_alerts_notifications_and_publishes_a_bulletin_from_the_console(
        serve_notifying, gateway, browser, tmp_path):
    serve = serve_notifying
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"\nconsole screenshots: {shots}")
    # The sample directory with its main hall as H1, notified through the test's gateway.
    document = json.loads((ROOT / "deploy" / "directory" / "sample-city.v1.json").read_text())
    text_of = json.dumps(document, ensure_ascii=False)
    document = json.loads(text_of.replace('"id": "main"', '"id": "H1"')
                          .replace('"hall_id": "main"', '"hall_id": "H1"'))
    document["halls"][0]["notify"] = [{"id": "sms", "kind": "webhook", "url": gateway.url,
                                       "secret": "SMS_TEST", "to": ["zt-leaders"]}]
    status, answer = call(f"{serve.url}/v1/directory", "POST", BUREAU_KEY, document,
                          "application/json")
    assert status == 201, answer
    post_event(serve.url, accepted("LY-3", time="2026-10-12T09:00:00+08:00"), HALL_KEY)
    found = wait_for(lambda: call(f"{serve.url}/v1/alerts?case=LY-3", "GET",
                                  BUREAU_KEY)[1]["alerts"], what="a finding on LY-3")
    alert_id = found[0]["alert_id"]
    status, answer = call(f"{serve.url}/v1/alerts/{alert_id}/notice", "POST", BUREAU_KEY,
                          {"working_days": 2, "content": "限期整改"}, "application/json")
    assert status == 200, answer
    wait_for(lambda: gateway.received, what="the notice at the gateway")

    sign_in(browser, serve.url)
    browser.evaluate("location.hash = '#/case/LY-3', true")
    sent = (f"li.alert[data-alert='{alert_id}'] .notifications "
            "li[data-occasion='notice'][data-status='sent']")
    # One expression: the case page may render again (a live update) between two reads.
    browser.wait(f"{text(sent)}.includes('督办') && {text(sent)}.includes('已送达')")
    browser.screenshot(shots / "01-case-notifications.png")

    browser.evaluate("location.hash = '#/bulletins', true")
    browser.wait(f"{text('#published')}.includes('尚未发布通报')")
    browser.evaluate("""(() => { const f = document.querySelector('#bulletin-form');
        f.period.value = '2026-10'; f.requestSubmit(); return true; })()""")
    browser.wait("!!document.querySelector('#bulletin-publish')")
    browser.evaluate(click("#bulletin-publish"))
    # Publishing renders the three documents: slow on a loaded machine.
    browser.wait(f"{text('#publish-result')}.includes('已发布')", timeout=180)
    browser.wait("document.querySelectorAll('#publications tbody tr').length === 1")
    row = browser.evaluate(text("#publications tbody tr"))
    assert "政务监察通报〔2026〕1号" in row and "2026-10" in row and "按分厅" in row
    browser.screenshot(shots / "02-published.png")
    # Publishing again with nothing changed is refused, in Chinese; the list stays.
    browser.evaluate(click("#bulletin-publish"))
    browser.wait(f"{text('#publish-result')}.includes('无需重复发布')", timeout=180)
    assert browser.evaluate("document.querySelectorAll('#publications tbody tr').length") == 1
    # No error on the page but (if the browser logs it) that refused publication's 409.
    errors = browser.errors()
    assert all("409" in e for e in errors), errors
    browser.goto(browser.evaluate("document.querySelector('#publications a.published-html')"
                                  ".href"))
    browser.wait("document.body.innerText.includes('政务监察通报〔2026〕1号')")
    browser.screenshot(shots / "03-published-document.png")
    assert browser.errors() == errors
