"""`kms-steward sweep --format html`: one self-contained page an auditor opens, rendered by a real browser.

A local cloud is seeded with certificates (one expired, one expiring in 5 days, one in 20, one fine, and one whose name
is a script), two keys out of rotation policy, and a denied secret listing (so a check is incomplete); the CLI writes
the page; headless Chromium (Debian's `chromium`, installed by .ci/run) renders it: its DOM shows the timeline's
certificates and the findings table's rows, and its screenshot shows their colors. The screenshot and the page are kept
in test-output/sweep-report/ (git-ignored; KMS_STEWARD_TEST_OUTPUT moves it), and their paths printed.

Without Chromium the browser test fails in CI (CI=true: .ci/run installs it, so its absence is a broken CI, not a
reason to pass) and is skipped elsewhere, saying how to install it: a developer without it still runs the rest.
"""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable

import pytest
import yaml
from click.testing import CliRunner

from kms_steward.cli import main
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, REGION
from tests.support.resources import alb_listener, cas_certificate, slb_https_listener, slb_server_certificate
from tests.support.sweeps import NOW, days_before, key, secret

ROOT = Path(__file__).resolve().parents[1]
KEY_OFF = "55555555-0000-4000-8000-000000000001"      # rotation disabled, material 800 days old: CRITICAL
KEY_SLOW = "55555555-0000-4000-8000-000000000002"     # rotates every 400 days (policy: 365): out of policy
HOSTILE = "<script>alert('owned')</script>"
SECRET_VALUE = "token-value"  # what tests.support.sweeps.secret stores: the checks never read it


def account_file(tmp_path: Path) -> str:
    # NOW is 2030-01-01T00:00Z, 08:00 on 2030-01-01 in China time (the zone CAS dates are read in).
    data = {
        "account_id": ACCOUNT_ID, "as_of": NOW,
        "credentials": [{"AccessKeyId": ALICE_AK, "AccessKeySecret": ALICE_SECRET, "UserName": "alice"}],
        "regions": [{"RegionId": REGION}],
        "kms": {"keys": [key(KEY_OFF, AutomaticRotation="Disabled", CreationDate=days_before(NOW, 800)),
                         key(KEY_SLOW, AutomaticRotation="Enabled", RotationInterval="34560000s",
                             CreationDate=days_before(NOW, 30))],
                "secrets": [secret("app/token", created=days_before(NOW, 10))]},
        "cas": {"certificates": [cas_certificate(201, "2029-12-10", "old.example.com"),        # expired 22 days ago
                                 cas_certificate(202, "2030-01-06", "pay.example.com"),        # 5 days
                                 cas_certificate(204, "2030-06-30", "www.example.com"),        # fine
                                 cas_certificate(205, "2030-01-13", "<b>x</b>.example.com", Name=HOSTILE)]},
        "alb": {"listeners": [alb_listener("lsr-web", "201-cn-hangzhou", "202-cn-hangzhou", "204-cn-hangzhou")]},
        "slb": {"server_certificates": [slb_server_certificate("s-shop", "2030-01-21T00:00:00Z", "shop.example.com")],
                "listeners": [slb_https_listener("lb-shop", "s-shop")]},
        # the secret listing is denied: secret_rotation cannot look, and the page must say so first
        "faults": [{"Api": "kms:ListSecrets", "Kind": "denied"}],
    }
    path = tmp_path / "account.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def output_dir() -> Path:
    out = Path(os.environ.get("KMS_STEWARD_TEST_OUTPUT") or ROOT / "test-output") / "sweep-report"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[str, int]:
    """The page the CLI writes, and its exit status."""
    tmp = tmp_path_factory.mktemp("sweep-html")
    page = tmp / "report.html"
    result = CliRunner().invoke(main, ["sweep", "--account", account_file(tmp), "--format", "html", "--output", str(page)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert f"report written to {page}" in result.stderr
    return page.read_text(encoding="utf-8"), result.exit_code


class Elements(HTMLParser):
    """Every element's tag and attributes, and the text inside each element (by tag)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.texts: list[tuple[str, str]] = []
        self.stack: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag not in ("meta", "br", "line", "rect", "circle", "link", "img"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        self.texts.append((self.stack[-1] if self.stack else "", data))

    def having(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.elements if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def certs_on_timeline(page: str) -> dict[str, dict]:
    return {a["data-cert"]: a for a in Elements(page).having("circle", **{"class": "cert"})}


# ---------------------------------------------------------------- the page as written


def test_the_page_is_one_self_contained_file(report):
    page, _ = report
    elements = Elements(page)
    assert not [a for t, a in elements.elements if t == "script"]
    assert not [(t, a) for t, a in elements.elements for k, v in a.items() if k in ("src", "href") and v]
    assert "@import" not in page and "url(" not in page
    [csp] = elements.having("meta", http_equiv="Content-Security-Policy")
    assert csp["content"].startswith("default-src 'none'")


def test_what_was_not_looked_at_comes_first(report):
    page, code = report
    assert code == 3  # findings at WARN or above take the exit status; the page says the rest
    assert 'id="outcome">findings at WARN or above' in page
    not_looked = page.index('id="not-looked-at"')
    assert not_looked < page.index('id="by-severity"') < page.index('id="expiry-timeline"') < page.index('id="findings-table"')
    section = page[not_looked:page.index("</section>", not_looked)]
    # every check that lists secrets: secret_rotation, policies, and deletion_protection's inventory
    assert "NOT looked at: 3 of 5 check run(s) incomplete" in section
    assert [t for tag, t in Elements(section).texts if tag == "td" and t.endswith("_rotation") or t in (
        "policies", "deletion_protection", "key_rotation", "cert_expiry")] == ["secret_rotation", "deletion_protection", "policies"]
    assert "listing the secrets: access denied (Forbidden.NoPermission" in section


def test_header_names_the_instant_account_regions_and_checks(report):
    page, _ = report
    assert 'id="swept-at">2030-01-01T00:00:00Z' in page
    assert f"<dd>{ACCOUNT_ID}</dd>" in page and f"<dt>Regions</dt><dd>{REGION}</dd>" in page
    assert "key_rotation, secret_rotation, deletion_protection, policies, cert_expiry" in page


def test_certificates_on_the_timeline_by_severity_and_expiry(report):
    page, _ = report
    certs = certs_on_timeline(page)
    assert {k: (v["data-severity"], int(v["data-days"])) for k, v in certs.items()} == {
        "201": ("CRITICAL", -22), "202": ("CRITICAL", 5), "205": ("INFO", 12), "s-shop": ("WARN", 20), "204": ("OK", 180)}
    markers = {int(a["data-days"]): float(a["x1"]) for a in Elements(page).having("line", **{"class": "marker"})}
    assert sorted(markers) == [0, 7, 30]  # now, critical, warning
    x = {k: float(v["cx"]) for k, v in certs.items()}
    assert x["201"] < markers[0] < x["202"] < markers[7] < x["205"] < x["s-shop"] < markers[30] < x["204"]


def test_findings_by_severity_counts_and_table_order(report):
    page, _ = report
    bars = {a["data-severity"]: int(a["data-count"]) for a in Elements(page).having("rect", **{"class": "sev-bar"})}
    rows = [a["data-severity"] for a in Elements(page).having("tr", **{"class": "finding"})]
    assert bars == {sev: rows.count(sev) for sev in ("CRITICAL", "WARN", "INFO")}
    assert bars["CRITICAL"] >= 3 and bars["WARN"] >= 1 and bars["INFO"] == 1  # 201, 202, KEY_OFF; s-shop; 205 unused
    assert rows == sorted(rows, key=["CRITICAL", "WARN", "INFO"].index)
    assert f"{sum(bars.values())} finding(s): {bars['CRITICAL']} CRITICAL, {bars['WARN']} WARN, 1 INFO" in page


def test_cloud_text_is_escaped_and_no_secret_is_in_the_page(report):
    page, _ = report
    assert HOSTILE not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in page
    texts = "".join(text for _, text in Elements(page).texts)
    assert HOSTILE in texts  # shown, as text
    assert SECRET_VALUE not in page and ALICE_SECRET not in page


def test_every_certificate_is_listed_with_its_expiry(report):
    page, _ = report
    rows = Elements(page).having("tr", **{"class": "certificate"})
    assert len(rows) == 5
    assert "<td>2030-06-30</td><td>180</td>" in page  # the fine one, placed from its day count
    assert "<td>2030-01-21T00:00:00Z</td><td>20</td>" in page


# ---------------------------------------------------------------- the page in a browser


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("chromium is not installed: .ci/run installs Debian's chromium package; the HTML report must be "
                    "seen rendered in CI")
    pytest.skip("chromium is not installed (apt-get install chromium); CI installs it and runs this test")


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    bpp = 3 if color == 2 else 4
    raw, stride, rows, prev = zlib.decompress(b"".join(chunks)), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    if bpp == 3:
        return width, height, rows
    rgb_rows = []
    for row in rows:  # drop the alpha channel
        rgb = bytearray(width * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = row[0::4], row[1::4], row[2::4]
        rgb_rows.append(bytes(rgb))
    return width, height, rgb_rows


def pixels(row: bytes) -> Iterable[tuple[int, int, int]]:
    return zip(row[0::3], row[1::3], row[2::3])


def near(colors: Iterable[tuple[int, int, int]], rgb: tuple[int, int, int], tolerance: int = 12) -> set:
    return {c for c in colors if all(abs(c[k] - rgb[k]) <= tolerance for k in range(3))}


def test_chromium_renders_the_chart_and_the_table(report, tmp_path):
    browser = chromium()
    page, _ = report
    out = output_dir()
    html_file, png = out / "report.html", out / "report.png"
    html_file.write_text(page, encoding="utf-8")
    png.unlink(missing_ok=True)
    common = [browser, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--hide-scrollbars",
              "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}"]
    shot = subprocess.run([*common, f"--screenshot={png}", "--window-size=1280,2200", html_file.as_uri()],
                          capture_output=True, text=True, timeout=180)
    print(f"\nsweep report: {html_file}\nits screenshot: {png}")
    assert png.is_file() and png.stat().st_size > 10_000, shot.stderr[-2000:]
    dom = subprocess.run([*common, "--dump-dom", html_file.as_uri()], capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = Elements(dom.stdout)
    # the DOM the browser built: the timeline's five certificates and markers, the table's rows, no script element
    assert len(rendered.having("svg", id="expiry-timeline")) == 1 and len(rendered.having("svg", id="severity-chart")) == 1
    assert sorted(a["data-cert"] for a in rendered.having("circle", **{"class": "cert"})) == ["201", "202", "204", "205", "s-shop"]
    assert len(rendered.having("line", **{"class": "marker"})) == 3
    assert len(rendered.having("tr", **{"class": "finding"})) == len(Elements(page).having("tr", **{"class": "finding"})) >= 5
    assert not [a for t, a in rendered.elements if t == "script"]
    assert any(HOSTILE in text for _, text in rendered.texts)
    # the pixels it drew: the severity colors of the bars, dots and table cells, and the not-looked-at frame
    width, height, rows = read_png(png)
    assert (width, height) == (1280, 2200)
    counts = Counter(c for row in rows for c in pixels(row))
    drawn = {name: sum(counts[c] for c in near(counts, rgb)) for name, rgb in
             {"CRITICAL": (0xC6, 0x28, 0x28), "WARN": (0xE0, 0x86, 0x00), "INFO": (0x15, 0x65, 0xC0),
              "OK": (0x2E, 0x7D, 0x32), "not looked at": (0x6A, 0x1B, 0x9A)}.items()}
    assert all(count > 200 for count in drawn.values()), drawn
    # the severity bars, the timeline and the tables are all drawn: CRITICAL red from near the top to far down
    red = near(counts, (0xC6, 0x28, 0x28))
    red_rows = [y for y, row in enumerate(rows) if sum(1 for c in pixels(row) if c in red) > 3]
    assert red_rows and red_rows[-1] - red_rows[0] > 600, (red_rows[:3], red_rows[-3:])


def test_findings_table_text_matches_markdown_report(tmp_path):
    """The same sweep in md and html: the same findings, the html's escaped only."""
    path = account_file(tmp_path)
    md = CliRunner().invoke(main, ["sweep", "--account", path]).stdout
    page = CliRunner().invoke(main, ["sweep", "--account", path, "--format", "html"]).stdout
    md_ids = re.findall(r"^\| (?:CRITICAL|WARN|INFO) \| \w+ \| [\w-]+ \| ([^|]+?) \|", md, re.M)
    html_ids = [text for tag, text in Elements(page).texts if tag == "code"]
    assert md_ids and [i.replace("\\|", "|") for i in md_ids] == html_ids[:len(md_ids)]


def test_edges_far_certificates_unreadable_dates_and_no_certificate_check():
    """Built from results directly: a certificate 900 days out is drawn at the axis' edge (its real count said), one
    whose date does not read is listed but not drawn, a complete sweep says so, and a sweep without the certificate
    check says no certificate was looked at."""
    from kms_steward.sweep_report import AXIS_DAYS, render_html
    from shared.sweeps.findings import CheckResult, Finding

    metric = {"MetricName": "CertificateDaysToExpiry", "Dimensions": {"certId": "far", "region": REGION, "account": ACCOUNT_ID},
              "Type": "0", "Values": {"value": 900}}
    odd = Finding("cert_expiry", "unreadable_date", "WARN", ACCOUNT_ID, REGION, "ACS::CAS::Certificate", "odd",
                  "CAS certificate odd has an expiry date that cannot be read", {"days_left": None, "domains": ["odd.example.com"]})
    certs = CheckResult("cert_expiry", ACCOUNT_ID, REGION, findings=[odd], metrics=[metric])
    page = render_html([certs], "2030-01-01T00:00:00Z")
    drawn = certs_on_timeline(page)
    assert list(drawn) == ["far"] and drawn["far"]["data-days"] == "900"
    assert "2032-06-19 · in 900 days · OK ▶" in page and AXIS_DAYS < 900
    assert "<td>unreadable</td>" in page and "odd.example.com" in page
    assert 'class="alllooked" id="not-looked-at"' in page and "Every check run (1) was complete" in page
    plain = render_html([CheckResult("key_rotation", ACCOUNT_ID, REGION)], "2030-01-01T00:00:00Z")
    assert "no certificate was looked at" in plain and 'id="expiry-timeline"' not in plain
    assert 'class="outcome clear"' in plain
