"""Headless Chromium for the tests of the HTML report, and the README's screenshot of it.

`python tests/browser.py` writes docs/report.png: the page of `squat assess --example --report` as Chromium shows it,
with a digest of the page's text, so that a test can tell when the screenshot no longer shows the current output.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0")  # fmt: skip
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "report.png"
DIGEST_KEY = "squatcli-report-text-sha256"


def chromium() -> str | None:
    """The Chromium executable, or None (Debian: apt-get install chromium; .ci/run installs it)."""
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def render(html: Path, png: Path, profile: Path, size: tuple[int, int] = (1000, 2400)) -> list[str]:
    """Screenshot `html` in headless Chromium with a new profile; the page's console messages (errors included)."""
    args = [chromium(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
            f"--screenshot={png}", html.resolve().as_uri()]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=180)
    if done.returncode != 0 or not png.exists():
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def text_digest(html: str) -> str:
    """sha256 of what a page says (its pictures left out): the same for the same report."""
    return hashlib.sha256(re.sub(r"data:[a-z/]+;base64,[A-Za-z0-9+/=]+", "", html).encode()).hexdigest()


def write_screenshot(html: Path, png: Path = SCREENSHOT) -> Path:
    """The README's screenshot of a report page, cropped to the page, with the digest of its text."""
    import numpy as np
    from PIL import Image, PngImagePlugin

    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "shot.png"
        render(html, shot, Path(tmp) / "profile", (1000, 4000))
        image = Image.open(shot).convert("RGB")
    pixels = np.asarray(image)[:, :-20]  # the scroll bar left out
    used = np.flatnonzero((pixels != pixels[:, :1]).any(axis=(1, 2)))
    image = image.crop((0, 0, image.width, min(image.height, int(used[-1]) + 20)))
    info = PngImagePlugin.PngInfo()
    info.add_text(DIGEST_KEY, text_digest(html.read_text(encoding="utf-8")))
    image.quantize(colors=256).save(png, pnginfo=info, optimize=True)
    return png


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "report.html"
        subprocess.run([sys.executable, "-m", "squatcli.cli", "assess", "--example", "--report", str(page)], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        print(write_screenshot(page))
