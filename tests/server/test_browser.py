"""The web app in a real browser (Playwright driving Debian's Chromium) against the real service:
mosquitto, the emulated plants on the wall clock, ingest, monitoring, jobs and the asker.

Screenshots go to a temporary folder, or to ``$TWINFORGE_SCREENSHOTS`` when set (the README's
pictures are made with ``TWINFORGE_SCREENSHOTS=docs/images pytest tests/server/test_browser.py``).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """The service on a free loopback port, fed live by the emulated bottling line and pump station."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it with apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    import uvicorn

    from twinforge.app import ServeSettings, Workspace
    from twinforge.data import MosquittoBroker
    from twinforge.data.brokers import free_port, mosquitto_binary
    from twinforge.examples import examples_dir
    from twinforge.server import create_app

    if mosquitto_binary() is None:
        pytest.skip("mosquitto binary not installed (.ci/run installs it with apt-get install mosquitto)")
    tmp = tmp_path_factory.mktemp("serve")
    broker = MosquittoBroker(data_dir=tmp / "mosquitto").start()
    settings = ServeSettings(
        twins=[str(examples_dir())],
        workspace=str(tmp / "ws"),
        monitor={"warmup_rows": 150, "window": 5},
        diagnosis={"seeds": 1, "window": 20},  # a shorter diagnosis window: 20 s of wall clock
        warn_every_s=0,
    )
    ws = Workspace(settings, store=str(tmp / "store.duckdb"))
    # past work orders of the pump station (not embedded: an alert lists its node's newest)
    from twinforge.maintenance import ingest

    (tmp / "work_orders.csv").write_text(
        "date,asset,text\n2025-01-10,pressure_gauge,pressure transmitter reading drifting high - recalibrated\n"
        "2025-03-02,pressure_gauge,replaced pressure gauge stuck at zero\n"
        "2025-05-05,pump,replaced pump mechanical seal leaking\n2025-06-01,valve1,inlet valve seized half closed\n"
    )
    ingest(tmp / "work_orders.csv", ws.store, spec=ws.twins.get("pump-station"), embed=False)
    ws.start_live(broker.address, wait_s=10)
    ws.start_emulators(settings.emulate, backlog_s=200)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ws), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the service did not start"
    yield f"http://127.0.0.1:{port}", ws
    server.should_exit = True
    thread.join(10)
    ws.close()
    broker.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    target = os.environ.get("TWINFORGE_SCREENSHOTS")
    folder = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _monitoring(ws, twin: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        live = ws.live.get(twin)
        if live is not None and live.monitor is not None and live.monitor.status.state == "monitoring":
            return
        time.sleep(0.2)
    raise AssertionError(f"{twin} is not monitored after {seconds} s")


def test_open_the_app_and_see_the_twin_graph(service, page, shots):
    url, _ws = service
    page.goto(url + "/#pump-station/twin")
    page.wait_for_selector("#graph .scatterlayer .point")
    assert page.locator("#graph .scatterlayer .point").count() == 13  # every node of the pump station
    assert page.inner_text("[data-testid=twin-title]") == "pump-station"
    # click the pump: its parameters and signals
    page.evaluate(
        "() => { const gd = document.getElementById('graph'); const i = gd.data[1].customdata.indexOf('pump');"
        " gd.emit('plotly_click', {points: [{customdata: 'pump', pointIndex: i}]}); }"
    )
    page.wait_for_selector("[data-testid=node-params]")
    assert "flow_rate" in page.inner_text("[data-testid=node-params]")
    page.wait_for_selector("[data-testid=node-chart] .main-svg")
    page.screenshot(path=str(shots / "web-twin.png"))


def test_watch_a_live_value_change(service, page, shots):
    url, _ws = service
    page.goto(url + "/#pump-station/live")
    cell = page.locator('[data-testid="value-current_meter.Current"]')
    cell.wait_for()
    read = "() => (document.querySelector('[data-testid=\"value-current_meter.Current\"]') || {}).textContent"
    page.wait_for_function(f"() => ({read})() && ({read})() !== '–'")
    first = cell.inner_text()
    page.wait_for_function(f"(v) => ({read})() !== v", arg=first, timeout=20_000)
    assert cell.inner_text() != first
    assert page.inner_text("[data-testid=connection]") == "live"
    page.wait_for_selector('[data-testid="chart-current_meter.Current"] .main-svg')
    page.wait_for_timeout(1500)
    page.screenshot(path=str(shots / "web-live.png"))


def test_a_fault_injected_through_the_emulator_shows_as_an_alert(service, page, shots):
    url, ws = service
    _monitoring(ws, "pump-station")
    page.goto(url + "/#pump-station/alerts")
    page.wait_for_selector("[data-testid=alerts-table]")
    from twinforge.data.emulator import SensorFault

    ws.inject_fault(
        "pump-station", SensorFault(node="pressure_gauge", signal="Pressure", kind="offset", magnitude=3.0)
    )
    row = page.locator('[data-testid=alert-row][data-node="pressure_gauge"]')
    try:
        row.first.wait_for(timeout=60_000)
    except Exception:
        raise AssertionError(f"no alert row; alerts: {ws.alerts()}; status: {ws.status()['live']}") from None
    assert "pressure_gauge.Pressure" in row.first.inner_text()
    assert int(page.inner_text("[data-testid=alert-count]")) >= 1
    # the detector's alert is named by the diagnoser trained on the twin's synthetic faults once its
    # window is in (a drift alert of the same gauge, from the twin's prediction, has no fault class)
    row = page.locator('[data-testid=alert-row][data-node="pressure_gauge"][data-source^="detector"]')
    row.first.wait_for(timeout=60_000)
    cell = "[data-testid=alert-row][data-node=pressure_gauge][data-source^=detector] [data-testid=alert-diagnosis]"
    page.wait_for_function(
        "(sel) => { const c = document.querySelector(sel); return c && !c.textContent.includes('diagnosing'); }",
        arg=cell,
        timeout=120_000,
    )
    alert_id = int(row.first.locator("td").first.inner_text())
    diagnosis = ws.alert(alert_id)["diagnosis"]
    shown = row.first.locator("[data-testid=alert-diagnosis]").inner_text()
    assert diagnosis["state"] == "done", diagnosis
    if diagnosis["fault"] == "unknown":
        assert shown.startswith("unknown")
    else:
        assert shown.startswith(f"{diagnosis['name']} p=0.") or shown.startswith(f"{diagnosis['name']} p=1")
    assert "no RUL model" in shown
    orders = row.first.locator("[data-testid=alert-work-order]")
    assert orders.count() == 3  # the gauge's and its pump's, newest first; not the valve's
    assert orders.first.inner_text() == "2025-05-05 replaced pump mechanical seal leaking"
    assert "valve" not in row.first.locator("[data-testid=alert-work-orders]").inner_text()
    page.screenshot(path=str(shots / "web-alerts.png"))
    row.first.locator("[data-testid=ack]").click()
    page.wait_for_function(
        "(sel) => document.querySelector(sel).closest('tr').textContent.includes('acked by')", arg=cell
    )
    ws.clear_faults("pump-station")


def test_run_a_what_if_and_see_the_comparison(service, page, shots):
    url, _ws = service
    page.goto(url + "/#bottling-line/scenario")
    page.wait_for_function("() => document.getElementById('job-scenario').value.includes('outage')")
    page.fill("#job-reps", "4")
    page.fill("#job-horizon", "4 h")
    page.click("[data-testid=job-run]")
    page.wait_for_selector("[data-testid=comparison-chart] .main-svg", timeout=120_000)
    table = page.inner_text("[data-testid=comparison-table]")
    assert "throughput" in table and "CI low" in table
    assert "done" in page.inner_text("[data-testid=job-status]")
    page.screenshot(path=str(shots / "web-scenario.png"))


def test_ask_a_question_and_see_the_answer_with_its_interventions(service, page, shots):
    url, _ws = service
    page.goto(url + "/#bottling-line/ask")
    page.fill("[data-testid=ask-input]", "What if the filler is down for 2 hours?")
    page.click("[data-testid=ask-send]")
    answer = page.locator("[data-testid=ask-answer]")
    answer.wait_for(timeout=120_000)
    assert answer.get_attribute("data-status") == "answered"
    assert "filler down for 2 h" in page.inner_text("[data-testid=ask-interventions]")
    assert "throughput" in page.inner_text("[data-testid=ask-outcome]")
    page.fill("[data-testid=ask-input]", "What if the toaster is down for 2 hours?")
    page.click("[data-testid=ask-send]")
    page.locator("[data-testid=ask-answer]").nth(1).wait_for(timeout=60_000)
    assert page.locator("[data-testid=ask-answer]").nth(1).get_attribute("data-status") == "declined"
    page.screenshot(path=str(shots / "web-ask.png"))


def test_the_flow_network_plan_is_drawn(service, page, shots):
    url, _ws = service
    page.goto(url + "/#beverage-supply-chain/scenario")
    page.wait_for_function("() => document.getElementById('job-scenario').value.includes('remove_node')")
    page.fill(
        "[data-testid=job-scenario]",
        '{"name": "no_cologne", "interventions": [{"op": "remove_node", "target": "S3"}]}',
    )
    page.click("[data-testid=job-run]")
    page.wait_for_selector("[data-testid=flow-sankey] .main-svg", timeout=60_000)
    assert "EUR" in page.inner_text("[data-testid=objective-delta]")
    page.screenshot(path=str(shots / "web-flow.png"))
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists()


def test_a_schedule_is_drawn_as_a_gantt_chart(service, page, shots):
    url, _ws = service
    page.goto(url + "/#bottling-line/scenario")
    page.wait_for_function("() => document.querySelector('#job-kind option[value=schedule]') !== null")
    page.select_option("[data-testid=job-kind]", "schedule")
    assert '"orders"' in page.input_value("[data-testid=job-scenario]")
    page.click("[data-testid=job-run]")
    page.wait_for_selector("[data-testid=schedule-gantt] .main-svg", timeout=60_000)
    assert page.locator("[data-testid=schedule-gantt] .bars .point").count() >= 4 * 6  # 4 orders × 6 stations
    page.screenshot(path=str(shots / "web-schedule.png"))


def test_delivery_routes_are_drawn_on_a_map(service, page, shots):
    url, _ws = service
    page.goto(url + "/#city-deliveries/scenario")
    page.wait_for_function("() => document.querySelector('#job-kind option[value=route]') !== null")
    page.select_option("[data-testid=job-kind]", "route")
    page.click("[data-testid=job-run]")
    page.wait_for_selector("[data-testid=route-map] .main-svg", timeout=60_000)
    assert "→" in page.inner_text("[data-testid=route-table]")
    page.screenshot(path=str(shots / "web-routes.png"))
