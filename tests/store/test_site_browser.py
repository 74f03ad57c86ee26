"""The site in a real browser (issue 24 item 7): headless Debian chromium driven by chromedriver over the W3C
WebDriver protocol (plain HTTP and JSON, so no selenium package): type a formula written differently into the
landing page's search, land on the material page, read σ there, click the CIF link, and read the downloaded file with
pymatgen; tick element chips and a σ bound and get the rows `db query` gives. Skipped where chromium or chromedriver
is not installed (apt-get install chromium chromium-driver). The server, the driver and the browser are stopped and
their ports free after."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("datasette")

from test_serve_limits import _free_port, _port_answers, serving  # tests/store is on sys.path, as pytest runs it

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
#: The W3C WebDriver identifier of an element in a response.
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class Browser:
    """A WebDriver session: the few commands the tests need."""

    def __init__(self, driver_url: str, session: str):
        self.url = f"{driver_url}/session/{session}"

    def _call(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)["value"]

    def go(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    def current_url(self) -> str:
        return self._call("GET", "/url")

    def wait_for_url(self, part: str, timeout_s: float = 30) -> str:
        """The URL once it contains ``part`` and the page has loaded (a click on submit does not wait for either)."""
        deadline = time.monotonic() + timeout_s
        while True:
            url = self.current_url()
            if part in url and self._call("POST", "/execute/sync", {"script": "return document.readyState", "args": []}) == "complete":
                return url
            assert time.monotonic() < deadline, f"still at {url}, not {part}"
            time.sleep(0.1)

    def find(self, css: str) -> str:
        found = self._call("POST", "/element", {"using": "css selector", "value": css})
        assert ELEMENT in found, (css, found)
        return found[ELEMENT]

    def find_all(self, css: str) -> list[str]:
        return [e[ELEMENT] for e in self._call("POST", "/elements", {"using": "css selector", "value": css})]

    def type(self, element: str, text: str) -> None:
        self._call("POST", f"/element/{element}/value", {"text": text})

    def click(self, element: str) -> None:
        self._call("POST", f"/element/{element}/click", {})

    def text(self, element: str) -> str:
        return self._call("GET", f"/element/{element}/text")

    def attribute(self, element: str, name: str) -> str:
        return self._call("GET", f"/element/{element}/attribute/{name}")

    def cdp(self, command: str, params: dict) -> None:
        self._call("POST", "/goog/cdp/execute", {"cmd": command, "params": params})


@contextmanager
def browser(download_dir: Path, log_dir: Path):
    port = _free_port()
    with open(log_dir / "chromedriver.log", "w") as log:
        driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=log, stderr=subprocess.STDOUT)
    driver_url = f"http://127.0.0.1:{port}"
    session = None
    try:
        deadline = time.monotonic() + 30
        while not _port_answers(port):
            assert driver.poll() is None and time.monotonic() < deadline, "chromedriver did not start"
            time.sleep(0.2)
        capabilities = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={log_dir / 'profile'}", "--window-size=1400,1200"],
            "prefs": {"download.default_directory": str(download_dir), "download.prompt_for_download": False}}}}}
        request = urllib.request.Request(driver_url + "/session", data=json.dumps(capabilities).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            session = json.load(response)["value"]["sessionId"]
        page = Browser(driver_url, session)
        page.cdp("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)})
        yield page
    finally:
        if session is not None:
            urllib.request.urlopen(urllib.request.Request(f"{driver_url}/session/{session}", method="DELETE"), timeout=60).close()
        driver.terminate()
        driver.wait(timeout=20)
    assert not _port_answers(port)


@pytest.fixture(scope="module")
def site(db_path, tmp_path_factory):
    with serving(db_path, tmp_path_factory.mktemp("browser-site-logs")) as (process, base):
        port = urllib.parse.urlsplit(base).port
        yield base.rsplit("/", 1)[0]
    assert process.poll() is not None and not _port_answers(port)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    downloads = tmp_path_factory.mktemp("downloads")
    with browser(downloads, tmp_path_factory.mktemp("browser")) as page:
        page.downloads = downloads  # type: ignore[attr-defined]
        yield page


def test_type_a_formula_open_the_material_and_read_its_downloaded_cif(site, page):
    from pymatgen.core import Structure

    page.go(site + "/")
    page.type(page.find("#formula"), "Li5.6PS4.6I0.6Cl0.8")  # the source's own order, not the database's
    page.click(page.find("form.search input[type=submit]"))
    assert page.wait_for_url("/material/").endswith("/material/Li5.6PS4.6Cl0.8I0.6")
    assert page.text(page.find("h1")) == "Li5.6PS4.6Cl0.8I0.6"
    assert "σ = 2.44 mS/cm" in page.text(page.find("p.big"))
    sigma_cells = [page.text(row) for row in page.find_all("tr.measurement td.num")]
    assert sigma_cells[0] == "2.44"
    assert page.find_all(".plot svg"), "no pattern plot"
    link = page.find("a.cif")
    assert page.attribute(link, "href").endswith(".cif")
    page.click(link)
    deadline = time.monotonic() + 30
    while not [p for p in page.downloads.glob("*.cif")]:
        assert time.monotonic() < deadline, f"nothing downloaded: {list(page.downloads.iterdir())}"
        time.sleep(0.2)
    cif = next(page.downloads.glob("*.cif"))
    time.sleep(0.5)  # the file is renamed from .crdownload when complete; give the write a moment
    structure = Structure.from_file(cif)
    assert structure.lattice.a == pytest.approx(9.9805, abs=0.01)  # the lattice model's a (9.988 before Kraft 2017's end members were excluded)
    assert {"Cl", "I"} <= {el.symbol for el in structure.composition.elements}


def _searched_and_db_query(page, db_path, *db_query_options: str) -> tuple[list[int], list[int]]:
    """Submits the landing page's search form as filled in: (the measurement IDs the search page lists, those
    `argyrodb db query` with ``db_query_options`` gives), each sorted."""
    page.click(page.find("form.search input[type=submit]"))
    page.wait_for_url("/search?")
    shown = sorted(int(page.attribute(row, "data-measurement")) for row in page.find_all("tr.measurement"))
    result = subprocess.run([sys.executable, "-m", "argyrodb", "db", "query", *db_query_options, "--format", "json",
                             "--columns", "measurement_id", "--db", str(db_path)],
                            capture_output=True, text=True, timeout=120, check=True)
    return shown, sorted(r["measurement_id"] for r in json.loads(result.stdout))


def test_element_chips_and_a_sigma_bound_give_the_rows_of_db_query(site, page, db_path):
    page.go(site + "/")
    for element in ("Cl", "I"):
        page.click(page.find(f'input[name=elements][value="{element}"]'))
    page.type(page.find("#sigma_min"), "2")
    shown, queried = _searched_and_db_query(page, db_path, "--contains", "Cl", "--contains", "I", "--sigma-min", "2")
    assert shown == queried
    assert shown and re.search(r"elements=Cl&elements=I&sigma_min=2", page.current_url())


def test_the_halide_fraction_range_gives_the_rows_of_db_query(site, page, db_path):
    """Item 1's halide-fraction filter typed into the landing page: I/(Cl+Br+I) from 0.5 to 0.9 with the Cl chip."""
    page.go(site + "/")
    page.click(page.find('input[name=elements][value="Cl"]'))
    page.type(page.find("#i_fraction_min"), "0.5")
    page.type(page.find("#i_fraction_max"), "0.9")
    shown, queried = _searched_and_db_query(page, db_path, "--contains", "Cl", "--i-fraction-min", "0.5", "--i-fraction-max", "0.9")
    assert shown and shown == queried
    fractions = [float(page.text(cell)) for cell in page.find_all("tr.measurement td.ifrac")]
    assert all(0.5 - 5e-4 <= f <= 0.9 + 5e-4 for f in fractions) and len(fractions) == len(shown)
