"""The portal in a real browser (selenium driving Debian's chromium and chromium-driver): log in, see last
night's report, download the workbook, a viewer sees no run button, an operator runs a pipeline and sees it
finish; at 390 px wide nothing overflows horizontally."""
import shutil

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from serve_helpers import ROOT, Server, add_user, create_key

PASSWORD = "mot de passe du portail"
AS_OF = "2026-11-25"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("portal")
    (work / "state").mkdir()
    state = work / "state" / "state.sqlite"
    add_user(state, "claire", "viewer", PASSWORD)
    add_user(state, "olivier", "operator", PASSWORD)
    key = create_key(state, "ci", "operator")
    server = Server(work, ROOT / "pipelines")
    # Last night's run.
    run_id = server.post("/api/pipelines/nightly-inventory/runs", key, json={"as_of": AS_OF}).json()["id"]
    assert server.get(f"/api/runs/{run_id}/wait?timeout=120", key).json()["status"] == "succeeded"
    yield server
    server.stop()


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900"]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def log_in(browser, server, name):
    browser.get(server.url + "/")
    browser.find_element(By.NAME, "username").send_keys(name)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    assert after_submit(browser, "section.pipeline"), browser.page_source


def after_submit(browser, selector):
    """The element of the page a form submission leads to (the click returns before that page may be there)."""
    return WebDriverWait(browser, 30).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, selector)))


def no_horizontal_overflow(browser):
    return browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def test_viewer_logs_in_sees_the_report_downloads_the_workbook_and_has_no_run_button(browser, server):
    browser.get(server.url + "/")
    assert browser.find_element(By.CSS_SELECTOR, "html").get_attribute("lang") == "fr"
    browser.find_element(By.NAME, "username").send_keys("claire")
    browser.find_element(By.NAME, "password").send_keys("pas le bon")
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    assert "incorrect" in after_submit(browser, ".error").text
    log_in(browser, server, "claire")
    cookie = browser.get_cookie("sf_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    card = browser.find_element(By.CSS_SELECTOR, 'section.pipeline[data-pipeline="nightly-inventory"]')
    assert "Réussi" in card.text
    assert not browser.find_elements(By.CSS_SELECTOR, "button.run-now")
    link = card.find_element(By.CSS_SELECTOR, "a.workbook")
    href = link.get_attribute("href")
    assert href.endswith(f"/files/latest/nightly-inventory/inventaire-{AS_OF}.xlsx")
    download = requests.get(href, cookies={"sf_session": cookie["value"]}, timeout=60)
    assert download.status_code == 200 and download.content[:2] == b"PK"
    assert requests.get(href, timeout=60, allow_redirects=False).status_code == 303  # no session, no file
    card.find_element(By.CSS_SELECTOR, "a.report-link").click()
    frame = browser.find_element(By.CSS_SELECTOR, "iframe.report")
    browser.switch_to.frame(frame)
    assert "Inventaire de la nuit" in browser.find_element(By.TAG_NAME, "h1").text
    assert browser.find_elements(By.CSS_SELECTOR, "svg")
    browser.switch_to.default_content()


def test_operator_runs_a_pipeline_and_sees_it_finish(browser, server):
    log_in(browser, server, "olivier")
    card = browser.find_element(By.CSS_SELECTOR, 'section.pipeline[data-pipeline="nightly-inventory"]')
    card.find_element(By.CSS_SELECTOR, "button.run-now").click()
    # The click submits a form: the run's page arrives after the redirect, not when click() returns.
    WebDriverWait(browser, 30).until(expected_conditions.url_contains("/runs/"))
    # The page reloads itself every 2 s while the run goes on, so the status is read afresh each time
    # (an element of the previous load is stale).
    def finished_status(driver):
        try:
            status = driver.find_element(By.ID, "run-status").text
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        return status if status != "En cours" else False
    assert WebDriverWait(browser, 120, poll_frequency=0.5).until(finished_status) == "Réussi"
    assert browser.find_elements(By.CSS_SELECTOR, "table.stages tbody tr")
    assert browser.find_elements(By.CSS_SELECTOR, "table.rejects tbody tr")


def test_a_form_without_its_csrf_token_is_refused(server):
    session = requests.Session()
    page = session.get(server.url + "/login")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    answer = session.post(server.url + "/login", data={"csrf": token, "username": "olivier", "password": PASSWORD}, allow_redirects=False)
    assert answer.status_code == 303
    refused = session.post(server.url + "/pipelines/nightly-inventory/run", data={"csrf": "forged"}, allow_redirects=False)
    assert refused.status_code == 403
    forged_login = requests.post(server.url + "/login", data={"csrf": "x", "username": "olivier", "password": PASSWORD}, allow_redirects=False)
    assert forged_login.status_code == 403


def test_the_portal_fits_a_390_px_phone(browser, server):
    browser.set_window_size(390, 844)
    browser.get(server.url + "/")
    assert no_horizontal_overflow(browser)
    log_in(browser, server, "olivier")
    pages = ["/", "/runs"]
    first_run = browser.find_element(By.CSS_SELECTOR, 'section.pipeline a[href^="/runs/"]').get_attribute("href")
    pages += [first_run, "/pipelines/nightly-inventory/report"]
    for page in pages:
        browser.get(page if page.startswith("http") else server.url + page)
        width = browser.execute_script("return window.innerWidth")
        assert width <= 400
        assert no_horizontal_overflow(browser), page
