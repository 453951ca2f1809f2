"""history.py report in a real headless browser: Debian's chromium driven by selenium through
the system chromedriver (never a downloaded browser).  The page opens from file://, shows the
regressions (linking to their charts), one chart per family and machine, a filter that hides
rows, the commit under the pointer, and makes no request at all."""

import json
import os
import shutil
import time

import pytest

import history
import history_synthetic as synthetic

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOT_COPY = "/tmp/history_screenshot.png"
OOM = "out of memory at epoch 1: CUDA out of memory. Tried to allocate 2.00 GiB"


def browser():
    """A headless chromium, or a skip saying what is missing."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed in .venv (requirements.txt has it)")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            pytest.skip(f"{path} is missing: scripts/setup.sh installs Debian's chromium "
                        "and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1300,2000",
                 "--disable-background-networking"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def pick_benchmarks():
    """Benchmarks of three families from the GPU sweep: six epochs, two steps, two copies."""
    names = synthetic.bench_names()
    picked = []
    for family, count in (("BM_TrainEpoch/", 6), ("BM_TrainStep/", 2), ("BM_HostToDevice/", 2)):
        picked += [n for n in names if n.startswith(family)][:count]
    return picked


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("page")
    names = pick_benchmarks()
    synthetic.write_history(str(tmp / "runs"), machines=("h100", "a100", "l4"), runs=40,
                            benchmarks=names, seed=3,
                            steps=[("a100", names[1], "time", 30, 1.12),
                                   ("h100", names[6], "time", 38, 1.15)],
                            software=[(30, {"libtorch_version": "2.11.0"})],
                            errors=[("l4", names[2], 39, OOM)])
    db, out = str(tmp / "h.sqlite"), str(tmp / "history.html")
    assert history.main(["ingest", db, str(tmp / "runs")]) == 0
    assert history.main(["check", db, "--json", str(tmp / "c.json")]) == 1
    assert history.main(["report", db, out]) == 0
    series = json.loads((tmp / "c.json").read_text())["series"]
    return {"path": out, "series": series, "names": names, "tmp": tmp}


def test_the_page_in_a_browser(page):
    driver = browser()
    try:
        driver.get("file://" + page["path"])
        paint = []
        for _ in range(50):
            paint = driver.execute_script(
                "return performance.getEntriesByType('paint').map(e => e.startTime)")
            if paint:
                break
            time.sleep(0.1)
        assert paint and max(paint) < 2000, paint                 # first paint, ms
        failing = [s for s in page["series"] if s["class"] in ("regression", "new error")]
        rows = driver.find_elements("css selector", "#regressions tbody tr")
        assert len(rows) == len(failing) == 2
        assert [r.find_elements("css selector", "td")[3].text for r in rows] == \
            ["new error", "regression"]
        assert OOM in rows[0].text and "+1" in rows[1].text and "BM_TrainStep" in rows[1].text
        charts = driver.find_elements("css selector", "figure.chart")
        assert len(charts) == 3 * 3                                # families x machines
        assert all(c.find_elements("css selector", "svg") for c in charts)
        for link in driver.find_elements("css selector", "#regressions a"):
            target = link.get_attribute("href").split("#")[1]
            assert driver.find_element("id", target).tag_name == "figure"
        # The A100's step at run 30 is in its baseline by now: no longer flagged, but a change
        # point of the whole series, named with the upgrade it came with.
        captions = [c.text for c in driver.find_elements("css selector", "figcaption")]
        [step] = [c for c in captions if "changed with LibTorch 2.10.0 -> 2.11.0" in c]
        assert "A100" in step and "step of +1" in step
        matrix = driver.find_elements("css selector", "#matrix tbody tr")
        assert len(matrix) == len(page["names"])
        # The filter hides the rows and charts it does not match.
        driver.find_element("id", "filter").send_keys("BM_HostToDevice")
        shown = [r for r in driver.find_elements("css selector", "#matrix tbody tr")
                 if r.is_displayed()]
        assert len(shown) == 2 and all("BM_HostToDevice" in r.text for r in shown)
        assert not [r for r in rows if r.is_displayed()]
        assert len([c for c in charts if c.is_displayed()]) == 3
        driver.find_element("id", "filter").clear()
        driver.execute_script("document.getElementById('filter')"
                              ".dispatchEvent(new Event('input'))")
        assert all(r.is_displayed() for r in rows)
        hover_names_a_run(driver, charts[0])
        # Nothing left the page: no resource loaded, and the policy forbids any.
        assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
        policy = driver.find_element(
            "css selector", 'meta[http-equiv="Content-Security-Policy"]').get_attribute("content")
        assert policy.startswith("default-src 'none';")
        driver.execute_script("window.scrollTo(0, 0)")
        shot = str(page["tmp"] / "history.png")
        assert driver.save_screenshot(shot)
        shutil.copyfile(shot, SCREENSHOT_COPY)
        assert os.path.getsize(shot) > 10_000
    finally:
        driver.quit()


def hover_names_a_run(driver, chart):
    """The pointer over a chart shows the commit and date of the run under it."""
    from selenium.webdriver.common.action_chains import ActionChains
    svg = chart.find_element("css selector", "svg")
    driver.execute_script("arguments[0].scrollIntoView()", svg)
    ActionChains(driver).move_to_element(svg).perform()
    tip = driver.find_element("id", "tip")
    assert tip.is_displayed() and tip.text.startswith("run ") and "commit " in tip.text, tip.text
    ActionChains(driver).move_to_element(driver.find_element("tag name", "h1")).perform()
    assert not tip.is_displayed()
