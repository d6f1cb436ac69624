"""In the real browser: the director opens Data, downloads the site's NDJSON, and imports a CSV
in two steps, seeing every problem before anything is stored."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CSV = (
    "mrn,given_name,family_name,birth_date,sex,weight_kg\n"
    "BRW-1,Alma,Northway,1981-03-04,female,64.5\n"
    "BRW-2,Bruno,,2099-01-01,male,\n"
    "BRW-1,Alma,Northway,1981-03-04,female,\n"
)


def test_the_director_downloads_and_imports_on_the_data_page(
    page, sign_in, screenshot, tmp_path: Path
) -> None:
    sign_in("director.mia")
    page.click(".mainnav a:has-text('Data')")
    page.wait_for_url("**/admin/data")
    assert "Data" in page.inner_text("h1")
    screenshot("interop-data-page")

    with page.expect_download() as download:
        page.click("text=Download MIA NDJSON (zip)")
    saved = tmp_path / "bulk.zip"
    download.value.save_as(saved)
    assert "Patient.ndjson" in zipfile.ZipFile(saved).namelist()

    upload = tmp_path / "patients.csv"
    upload.write_text(CSV, encoding="utf-8")
    page.set_input_files("#file", str(upload))
    page.click("button:has-text('Check file')")
    page.wait_for_url("**/admin/data/import")
    summary = page.inner_text("[data-testid=import-summary]")
    assert "1 new patients" in summary
    assert "3 problems" in summary
    errors = page.inner_text("[data-testid=import-errors]")
    assert "line 3" in errors
    assert "in the future" in errors
    assert "appears again (first at line 2)" in errors
    screenshot("interop-import-preview")

    page.click("button:has-text('Import the 1 valid rows only')")
    page.wait_for_url("**/admin/data")
    assert "Imported 1 patients into MIA" in page.inner_text(".flash")
    screenshot("interop-import-done")
