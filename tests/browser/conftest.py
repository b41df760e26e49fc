"""The browser tier: headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven
by selenium through a real worker on the real stack. A missing browser fails the tier: it is
never skipped. Screenshots are kept in ``build/browser/`` (``V2V_BROWSER_ARTEFACTS``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.settings import REPO_ROOT

CHROMIUM = os.environ.get("V2V_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("V2V_CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def artefacts() -> Path:
    out = Path(os.environ.get("V2V_BROWSER_ARTEFACTS", REPO_ROOT / "build" / "browser"))
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def browser(artefacts: Path) -> Iterator[object]:
    """Headless Chromium at 1366x768 (the console's smallest supported screen)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which(CHROMIUM) or CHROMIUM
    driver_path = shutil.which(CHROMEDRIVER) or CHROMEDRIVER
    missing = [p for p in (binary, driver_path) if not Path(p).is_file()]
    if missing:
        pytest.fail(
            f"no browser: {', '.join(missing)} missing; install Debian's chromium and "
            "chromium-driver (make infra-deps), or set V2V_CHROMIUM / V2V_CHROMEDRIVER"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1366,768", "--lang=en"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
