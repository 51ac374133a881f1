"""`infoswap ui` in a real browser: Debian's chromium, driven by Selenium, against the app started as a user
starts it (a subprocess on a free local port, the test checkpoint of `swap_fixtures`).

It swaps a bundled source into a bundled target, downloads the result and finds the watermark in it (in
Python and in the page's Inspect tab), swaps a short clip with audio, shows the λ grid, and checks that a
non-image, a face-less image and an over-limit image each give a readable error while the app goes on
serving. Screenshots and the start-up time land in tests/artifacts/; INFOSWAP_UPDATE_SCREENSHOT=1 also
refreshes docs/ui.png for the README. Chromium comes from apt when missing (root, as on CI).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from swap_fixtures import REPO, SOURCE, TARGET, checkpoint, make_clip, sample_frames, wall

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = REPO / "tests" / "artifacts"
WAIT = 120  # s: the slowest step (a video swap) on a loaded 2-core machine
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,1700")


# --- set-up -------------------------------------------------------------------------------------------


def _install_chromium() -> str | None:
    """Installs Debian's chromium and chromium-driver when missing; the reason it could not, or None."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "chromium is not installed and this is not a root Debian machine to apt-get it on"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium", "chromium-driver"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}"
    return None if CHROMIUM.exists() and CHROMEDRIVER.exists() else "apt-get ran but chromium is still missing"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`infoswap ui` on a free port; yields its URL once the first page is served (time recorded)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ckpt = checkpoint()
    log_path = tmp_path_factory.mktemp("ui-server") / "server.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    url = f"http://127.0.0.1:{port}/"
    with open(log_path, "w") as log:
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "infoswap", "ui", "--port", str(port), "--checkpoint",
                                    str(ckpt), "--device", "cpu"], stdout=log, stderr=subprocess.STDOUT,
                                   env=env, cwd=tempfile.gettempdir())
        try:
            seconds = _first_page(url, process, start, log_path)
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "ui-startup.json").write_text(json.dumps({"seconds_to_first_page": round(seconds, 2)}))
            print(f"\ninfoswap ui: first page served {seconds:.1f} s after start")
            yield url
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def _first_page(url: str, process: subprocess.Popen, start: float, log_path: Path) -> float:
    while time.perf_counter() - start < WAIT:
        if process.poll() is not None:
            pytest.fail(f"infoswap ui exited with {process.returncode}:\n{log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"infoswap ui served no page within {WAIT} s:\n{log_path.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def chromium() -> None:
    reason = _install_chromium()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # to list every request it made
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    downloads = tmp_path_factory.mktemp("downloads")
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, server):
    browser.get(server)
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#image-target input[type=file]"))
    return browser


# --- page helpers -------------------------------------------------------------------------------------


def _text(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def _wait_for(driver, element_id: str, *words: str, shown_before: str = "") -> str:
    """The element's text once it holds every one of `words`; where a success is awaited, an error other
    than the one `shown_before` (still on screen while the next request runs) fails at once."""
    def ready(d):
        text = _text(d, element_id)
        if all(w in text for w in words):
            return text
        error = text[text.find("Error:"):] if "Error:" in text else ""
        if error and "Error:" not in words and error not in shown_before:
            pytest.fail(f"#{element_id} shows an error: {text}")
        return False

    try:
        return WebDriverWait(driver, WAIT).until(ready)
    except TimeoutException:
        pytest.fail(f"#{element_id} never showed {words}; it shows {_text(driver, element_id)!r}")


def _upload(driver, element_id: str, *paths: Path) -> None:
    """Puts files in a gr.File, clearing what it held first (a filled one has no file input)."""
    inputs = driver.find_elements(By.CSS_SELECTOR, f"#{element_id} input[type=file]")
    if not inputs:
        driver.find_element(By.CSS_SELECTOR, f"#{element_id} button[aria-label='Clear']").click()
        inputs = WebDriverWait(driver, WAIT).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, f"#{element_id} input[type=file]"))
    inputs[0].send_keys("\n".join(str(p) for p in paths))


def _download(driver, button_id: str, suffix: str) -> Path:
    before = set(driver.downloads.iterdir())
    button = WebDriverWait(driver, WAIT).until(lambda d: d.find_element(By.ID, button_id))
    WebDriverWait(driver, WAIT).until(lambda d: button.is_displayed())
    button.click()
    found = WebDriverWait(driver, WAIT).until(
        lambda d: [p for p in set(d.downloads.iterdir()) - before if p.suffix == suffix])
    return found[0]


def _screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    print(f"\nscreenshot: {path}")
    return path


def _hosts_contacted(driver) -> set[str]:
    """Every host the page sent an http(s) request to (chromium's own chrome:// pages left out)."""
    hosts = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if url.startswith(("http://", "https://", "ws://", "wss://")):
                hosts.add(url.split("/")[2])
    return hosts


# --- tests --------------------------------------------------------------------------------------------


def test_image_swap_in_the_browser_downloads_a_watermarked_result(page, server):
    from infoswap.swap import watermark
    from infoswap.swap.provenance import read_provenance

    _upload(page, "image-sources", SOURCE)
    _upload(page, "image-target", TARGET)
    assert "1 face found" in _wait_for(page, "image-status", "Done:", "face found")
    page.find_element(By.ID, "image-swap").click()
    _wait_for(page, "image-status", "Done:", "swapped 1 face")
    assert page.find_element(By.CSS_SELECTOR, "#image-result img").get_attribute("src")
    shot = _screenshot(page, "ui-image-swap.png")
    if os.environ.get("INFOSWAP_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, REPO / "docs" / "ui.png")

    result = _download(page, "image-download", ".png")
    assert result.name.startswith("infoswap-swap-")  # our name, not the upload's
    report = read_provenance(result)
    assert report["watermark"]["found"] and report["watermark"]["payload"] == watermark.PAYLOAD
    assert report["metadata"]["ai_generated"]

    page.find_element(By.XPATH, "//button[@role='tab' and contains(., 'Inspect')]").click()
    _upload(page, "inspect-file", result)
    assert "watermark found" in _wait_for(page, "inspect-status", "Done:", result.name)
    assert "metadata marks it as AI-generated" in _text(page, "inspect-status")
    assert _hosts_contacted(page) <= {server.split("/")[2]}  # nothing fetched from anywhere else


def test_bad_uploads_show_an_error_and_the_app_keeps_serving(page, tmp_path):
    from PIL import Image

    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture\n")
    empty_wall = tmp_path / "wall.png"
    Image.fromarray(wall()).save(empty_wall)
    huge = tmp_path / "huge.png"
    Image.new("1", (8000, 6400)).save(huge)  # 51.2 megapixels in a 6 KB file
    cases = [(notes, "is not an image"), (empty_wall, "no face found"), (huge, "51.2 megapixels")]
    for path, words in cases:
        _upload(page, "image-target", path)
        shown = _wait_for(page, "image-status", "Error:", path.name, words)
        assert tempfile.gettempdir() not in shown  # named as the user knows it, not by a server path
        _upload(page, "image-target", TARGET)  # the next request is served
        _wait_for(page, "image-status", "Done:", "1 face found", shown_before=shown)
    _upload(page, "image-sources", empty_wall)  # a face-less source stops the swap with a message
    page.find_element(By.ID, "image-swap").click()
    _wait_for(page, "image-status", "Error:", "wall.png", "no face found in the source")
    _screenshot(page, "ui-error.png")


def test_video_swap_keeps_audio_and_marks_every_frame(page, tmp_path):
    from infoswap.swap.provenance import read_provenance

    clip = make_clip(tmp_path / "clip.mp4", sample_frames(6, 256))
    page.find_element(By.XPATH, "//button[@role='tab' and contains(., 'Video swap')]").click()
    _upload(page, "video-sources", SOURCE)
    _upload(page, "video-target", clip)
    page.find_element(By.ID, "video-swap").click()
    _wait_for(page, "video-status", "Done:", "of 6 frames had a face")
    result = _download(page, "video-download", ".mp4")
    report = read_provenance(result, frames=3)
    assert report["watermark"]["frames_found"] == report["watermark"]["frames_checked"] == 3
    assert report["metadata"]["video"]["has_audio"] and report["metadata"]["ai_generated"]


def test_explain_tab_shows_the_lambda_grid(page):
    page.find_element(By.XPATH, "//button[@role='tab' and contains(., 'Explain')]").click()
    _upload(page, "explain-file", TARGET)
    _wait_for(page, "explain-status", "Done:", "λ maps of neutral.jpg")
    table = _text(page, "explain-table")
    assert table.count("0.993") == 10  # a freshly initialised IIB keeps everything: r = 5, λ = sigmoid(5)
    assert page.find_element(By.CSS_SELECTOR, "#explain-grid img").get_attribute("src")


def test_ui_warns_before_listening_beyond_this_computer():
    from swap_fixtures import run_cli

    code, _, err = run_cli("ui", "--host", "0.0.0.0", "--checkpoint", "no-such-checkpoint.safetensors")
    assert "warning: listening on 0.0.0.0" in err
    assert code == 2 and "no-such-checkpoint.safetensors: no such checkpoint file" in err
