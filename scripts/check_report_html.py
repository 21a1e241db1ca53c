"""Open an HTML report in headless Chromium and check that it renders: no console errors, every image loaded.

Usage: python scripts/check_report_html.py REPORT.html [--screenshot out.png]
Needs Debian's `chromium` and `chromium-driver` packages (/usr/bin/chromium, /usr/bin/chromedriver) and the
`browser` extra (selenium). Exit 0 when the page is clean, 1 with the problems listed otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,2000",
]


def find_browser() -> tuple[str, str] | None:
    """Paths of chromium and chromedriver, or None when either is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


def check_report(path: str | Path, screenshot: str | Path | None = None) -> dict:
    """Load ``path`` in headless Chromium; return {"images": n, "broken_images": [...], "console_errors": [...],
    "title": str}. Raises RuntimeError when Chromium or chromedriver is missing."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = find_browser()
    if found is None:
        raise RuntimeError("chromium and chromedriver not found (apt-get install chromium chromium-driver)")
    chromium, driver = found
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="volts-chromium-")
    opts.add_argument(f"--user-data-dir={profile}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(driver), options=opts)
    try:
        browser.set_page_load_timeout(60)
        browser.get(Path(path).resolve().as_uri())
        state = browser.execute_script("""
            const imgs = Array.from(document.images);
            return {images: imgs.length, title: document.title,
                    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt || i.src.slice(0, 60))};
        """)
        logs = browser.get_log("browser")
        if screenshot:
            browser.save_screenshot(str(screenshot))
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)
    errors = [entry["message"] for entry in logs if entry.get("level") == "SEVERE"]
    return {
        "images": state["images"],
        "broken_images": state["broken"],
        "console_errors": errors,
        "title": state["title"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report")
    parser.add_argument("--screenshot")
    args = parser.parse_args(argv)
    result = check_report(args.report, args.screenshot)
    print(json.dumps(result, indent=2))
    ok = result["images"] > 0 and not result["broken_images"] and not result["console_errors"]
    print("OK: renders cleanly" if ok else "FAIL", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
