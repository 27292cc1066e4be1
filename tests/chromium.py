"""Debian's Chromium for the browser tests (apt-get install chromium): never a browser
downloaded by Playwright. Flags keep it from reaching for the network it does not have."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
