"""The Snakemake HTML report, rendered in headless Chromium: every result, viewable and captioned.

The report is a React app that draws its menus from embedded JSON, so reading the HTML file proves
little. Instead a small script, added to a copy of the report, clicks through the rendered app as a
reader would (each Results category, each result's view and info buttons) and writes what the
page showed into a <pre> element, which Chromium's --dump-dom hands back.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import yaml
from conftest import CONFIG, REPO, TINY_TARGETS, snakemake

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--no-first-run",
    "--virtual-time-budget=30000",
)
PROBE_ID = "randablate-probe"

# Clicks through the report as a reader would and records, for every result, what the page showed.
DRIVER = """
(async function () {
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const nav = () => document.querySelector("#app nav");
  const links = (root) => Array.from(root.querySelectorAll("a"));
  const listed = () => Array.from(nav().querySelectorAll("div.p-3 > ul > li"));
  const rows = () => Array.from(nav().querySelectorAll("div.p-3 table tbody tr"));
  const click = async (element) => {
    element.click();
    await pause(200);
  };
  const open = async (text) => {
    const item = listed().find((li) => li.textContent === text && li.querySelector("a"));
    if (item === undefined) throw new Error("no menu item " + text);
    await click(item.querySelector("a"));
  };
  const home = async () => click(links(nav().querySelector("nav ol"))[0]);
  const openList = async (category, subcategory) => {
    await home();
    await open(category);
    if (subcategory !== null) await open(subcategory);
  };
  const probe = { results: [], errors: [] };
  try {
    await pause(200);
    // A lone category is one "Results" link; several follow a "Results" heading.
    const names = listed().map((li) => (li.querySelector("a") ? "" : "#") + li.textContent);
    const heading = names.indexOf("#Results");
    const categories = heading < 0 ? ["Results"] : names.slice(heading + 1);
    for (const category of categories) {
      await openList(category, null);
      const subcategories = rows().length > 0 ? [null] : listed().map((li) => li.textContent);
      for (const subcategory of subcategories) {
        await openList(category, subcategory);
        const count = rows().length;
        for (let i = 0; i < count; i++) {
          await openList(category, subcategory);
          const cells = Array.from(rows()[i].querySelectorAll("td"));
          const result = {
            category: category,
            subcategory: subcategory,
            labels: cells.slice(0, -1).map((td) => td.textContent),
          };
          const [view, info] = links(cells[cells.length - 1]);
          if (view.getAttribute("download") !== null) {
            result.download = view.getAttribute("download");
            result.href = view.getAttribute("href").slice(0, 40);
          } else {
            await click(view);
            await pause(200);
            const img = document.querySelector("#app > div > div.grow img");
            result.image = img === null ? null : {
              src: img.getAttribute("src").slice(0, 40),
              width: img.naturalWidth,
              height: img.naturalHeight,
            };
          }
          await click(info);
          const trail = links(nav().querySelector("nav ol"));
          result.path = trail[trail.length - 1].textContent;
          const caption = nav().querySelector("div.p-3 li.prose");
          result.caption = caption === null ? null : caption.textContent;
          probe.results.push(result);
        }
      }
    }
  } catch (error) {
    probe.errors.push(String((error && error.stack) || error));
  }
  const pre = document.createElement("pre");
  pre.id = "PROBE_ID";
  pre.textContent = JSON.stringify(probe);
  document.body.appendChild(pre);
})();
""".replace("PROBE_ID", PROBE_ID)

CAPTIONS = REPO / "workflow" / "report"

pytestmark = pytest.mark.slow


def find_browser() -> str | None:
    """The first Chromium-like browser on PATH, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path is not None:
            return path
    return None


@pytest.fixture(scope="session")  # session-wide, so that it skips before tiny_run is built
def browser() -> str:
    path = find_browser()
    if path is None:
        reason = f"no headless browser on PATH (looked for {', '.join(BROWSERS)})"
        if os.environ.get("RANDABLATE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, but RANDABLATE_REQUIRE_BROWSER=1")
        pytest.skip(f"{reason}; install Debian's chromium to run the report tests")
    return path


@pytest.fixture(scope="module")
def report_html(browser, tiny_run) -> Path:
    """The report of the tiny run's results, as one self-contained HTML file."""
    report = tiny_run / "report.html"
    report.unlink(missing_ok=True)
    run = snakemake(tiny_run, *TINY_TARGETS, "--report", "report.html")
    assert run.returncode == 0, run.stderr[-5000:]
    assert report.stat().st_size > 100_000  # React, Vega and the results are embedded
    return report


def chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium with its own throwaway profile."""
    command = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    run = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def clicked_through(browser: str, report: Path, tmp_path: Path) -> dict:
    """Open a copy of `report` with the driver script added; return what the driver saw."""
    page = report.read_text()
    end = page.rfind("</body>")
    assert end > 0
    driven = tmp_path / "driven.html"
    driven.write_text(f"{page[:end]}<script>{DRIVER}</script>{page[end:]}")
    dom = chromium(browser, tmp_path / "profile", "--dump-dom", driven.as_uri()).stdout
    found = re.search(f'<pre id="{PROBE_ID}">(.*?)</pre>', dom, flags=re.S)
    assert found, "the driver script did not finish within the virtual time budget"
    return json.loads(html.unescape(found[1]))


def squash(text: str) -> str:
    """Collapse runs of white space, as a browser displays text."""
    return " ".join(text.split())


def literal_passage(rst: str) -> str:
    """The longest passage of a caption file that its Jinja templating leaves as it is, as shown."""
    pieces = re.split(r"{%.*?%}|{{.*?}}|\n\s*\n", rst, flags=re.S)
    return max((squash(piece.replace("``", "").replace("**", "")) for piece in pieces), key=len)


def embedded_categories(report: Path) -> dict[str, dict[str, list[str]]]:
    """The results the report file carries, by category and subcategory, from its embedded JSON."""
    found = re.search(r"var categories = (.*?);\n", report.read_text())
    assert found, "no categories in the report"
    return json.loads(found[1])


def test_report_shows_every_result_of_the_run_with_its_caption(report_html, browser, tmp_path):
    probe = clicked_through(browser, report_html, tmp_path)
    assert probe["errors"] == []
    shown = {result["path"]: result for result in probe["results"]}
    workdir = report_html.parent

    # The menus list each result the report carries once, among them every target of the run.
    carried = [
        path
        for subcategories in embedded_categories(report_html).values()
        for paths in subcategories.values()
        for path in paths
    ]
    assert len(shown) == len(probe["results"]) == len(carried)
    assert sorted(shown) == sorted(carried)
    missing = set(TINY_TARGETS) - set(shown)
    assert not missing, f"built but not in the report: {sorted(missing)}"
    # The report opens with the reproduction scorecard.
    assert probe["results"][0]["path"] == "results/tables/reproduction.csv"

    passages = {path.name: literal_passage(path.read_text()) for path in CAPTIONS.glob("*.rst")}
    for path, result in shown.items():
        assert (workdir / path).is_file(), path
        assert any(label.strip() for label in result["labels"]), path
        # Its caption is one of report/*.rst, rendered: Jinja filled in, reStructuredText as HTML.
        caption = squash(result["caption"] or "")
        assert "{{" not in caption and "{%" not in caption and "``" not in caption, path
        assert any(passage in caption for passage in passages.values()), (path, caption)
        name = Path(path).name
        if name.endswith(".png"):
            # The figure was drawn, at the size of the file the run wrote.
            height, width = mpimg.imread(workdir / path).shape[:2]
            assert result["image"]["src"].startswith("data:image/png"), path
            assert (result["image"]["width"], result["image"]["height"]) == (width, height), path
        else:
            # Tables and other files are offered as downloads under their own names.
            assert result["download"] == name
            mime = "data:text/csv" if name.endswith(".csv") else "data:"
            assert result["href"].startswith(mime), path

    # Table 1's caption: report/table1.rst with the run's settings filled in.
    t1 = yaml.safe_load((workdir / CONFIG).read_text())["table1"]
    table1 = squash(shown["results/tables/table1.csv"]["caption"])
    assert passages["table1.rst"] in table1
    for setting in (f"{t1['num_images']} test images", f"n0 = {t1['n0']}", f"n = {t1['n']}"):
        assert setting in table1


def test_report_screenshot_is_not_blank(report_html, browser, tmp_path):
    shot = tmp_path / "report.png"
    chromium(
        browser,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1280,800",
        report_html.as_uri(),
    )
    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (800, 1280)
    assert float(np.var(pixels[..., :3])) > 0
