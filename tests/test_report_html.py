"""The report renders in a real browser: headless Debian chromium loads report.html from disk with
every network lookup refused, every plot decodes (naturalWidth > 0), and the screenshot is not blank."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import require
from tests.helpers import REPO, read_jsonl, run_verify

# Chromium as the team brief runs it, plus a resolver that refuses every host: a page that needed the
# network would show broken images here.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)

PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = [...document.images].map(i => ({w: i.naturalWidth, h: i.naturalHeight, ok: i.complete}));
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = "PROBE" + JSON.stringify({imgs, title: document.title, h2: document.querySelectorAll("h2").length}) + "PROBE";
  document.body.appendChild(out);
});
</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            ["chromium", *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=180,
        )


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("html")
    bank = REPO / "problem_banks" / "gsm-style.jsonl"
    rows = []
    for i, p in enumerate(read_jsonl(bank)):
        rows.append({"problem_id": p["id"], "completion": p["solution"]})
        rows.append({"problem_id": p["id"], "completion": "#### 7" if i % 2 else "no idea"})
    responses = tmp / "r.jsonl"
    responses.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    run = tmp / "run"
    result = run_verify("--bank", str(bank), "--responses", str(responses), "--out", str(run))
    assert result.returncode == 0, result.stderr
    result = run_verify("report", str(run))
    assert result.returncode == 0, result.stderr
    return run / "report" / "report.html"


def test_every_plot_loads_in_headless_chromium(report_html: Path, tmp_path: Path) -> None:
    require(shutil.which("chromium") is not None, "chromium is not installed (bash scripts/chromium_up.sh)")
    probe = tmp_path / "probe.html"
    probe.write_text(
        report_html.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8"
    )
    result = _chromium("--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r"PROBE(\{.*?\})PROBE", result.stdout)
    assert found, result.stdout[-2000:]
    seen = json.loads(found.group(1))
    assert seen["title"] == "verify report: run" and seen["h2"] == 4
    assert len(seen["imgs"]) >= 8  # outcomes (3), coverage (tag, cluster map, clusters), drift (2), cost
    assert all(i["ok"] and i["w"] > 100 and i["h"] > 100 for i in seen["imgs"]), seen["imgs"]


def test_screenshot_is_not_blank(report_html: Path, tmp_path: Path) -> None:
    require(shutil.which("chromium") is not None, "chromium is not installed (bash scripts/chromium_up.sh)")
    from PIL import Image, ImageStat

    shot = tmp_path / "shot.png"
    result = _chromium("--window-size=1320,2400", f"--screenshot={shot}", report_html.as_uri())
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    with Image.open(shot) as im:
        assert im.size == (1320, 2400)
        rgb = im.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 16)
        stat = ImageStat.Stat(rgb)
    # A blank or error page is one or two colours; plots and text give hundreds and real contrast.
    assert colours is None or len(colours) > 200
    assert max(stat.stddev) > 20
