"""The data loader: where it finds the data, what it checks, and what it says when a check fails."""

import http.server
import io
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from rnn_course import data
from rnn_course.data import DataError, load_data


@pytest.fixture
def no_course_folder(tmp_path, monkeypatch):
    """Point the course data folder at an empty temporary folder and clear the variable."""
    folder = tmp_path / "course-data"
    monkeypatch.setattr(data, "course_data_dir", lambda: folder)
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    return folder


def test_energy_matches_the_data_readme(energy):
    assert energy.shape == (26_304, 2)
    assert list(energy.columns) == ["load", "temp"]
    assert energy.index[0] == pd.Timestamp("2012-01-01 00:00") and energy.index[-1] == pd.Timestamp("2014-12-31 23:00")
    assert energy.index.freqstr == "h"
    assert energy.iloc[0].tolist() == [2698.0, 32.0]
    assert energy.iloc[1]["load"] == 2558.0 and round(energy.iloc[1]["temp"], 2) == 32.67
    assert energy["load"].min() == 1979.0 and energy["load"].max() == 5224.0
    assert round(energy["load"].mean(), 1) == 3303.8
    assert energy["temp"].min() == pytest.approx(-13.67, abs=0.01) and energy["temp"].max() == 95.0
    assert not energy.isna().any().any()


def test_loads_a_file_path_and_a_folder_alike(data_dir, energy):
    pd.testing.assert_frame_equal(load_data(data_dir / "energy.csv"), energy)


def test_environment_variable_is_used_when_no_path_is_given(data_dir, energy, no_course_folder, monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, str(data_dir))
    pd.testing.assert_frame_equal(load_data(), energy)


def test_course_folder_is_used_last(data_dir, energy, no_course_folder):
    no_course_folder.mkdir()
    shutil.copy(data_dir / "energy.csv", no_course_folder / "energy.csv")
    pd.testing.assert_frame_equal(load_data(), energy)


def test_workbook_is_read_and_cached_as_csv(data_dir, energy, tmp_path):
    shutil.copy(data_dir / "GEFCom2014-E.xlsx", tmp_path / "GEFCom2014-E.xlsx")
    pd.testing.assert_frame_equal(load_data(tmp_path), energy, check_names=False)
    assert (tmp_path / "energy.csv").exists(), "the workbook should be converted once to energy.csv"
    pd.testing.assert_frame_equal(load_data(tmp_path), energy, check_names=False)


def make_archive(data_dir: Path, dest: Path) -> Path:
    """An archive laid out like the competition's GEFCom2014.zip (a zip inside a zip)."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.write(data_dir / "GEFCom2014-E.xlsx", "GEFCom2014-E.xlsx")
    with zipfile.ZipFile(dest, "w") as z:
        z.writestr("GEFCom2014 Data/GEFCom2014-E_V2.zip", inner.getvalue())
    return dest


@pytest.fixture(scope="module")
def archive(data_dir, tmp_path_factory):
    return make_archive(data_dir, tmp_path_factory.mktemp("archive") / "GEFCom2014.zip")


def test_archive_is_extracted(archive, energy, tmp_path):
    shutil.copy(archive, tmp_path / "GEFCom2014.zip")
    pd.testing.assert_frame_equal(load_data(tmp_path), energy, check_names=False)


def test_downloads_the_archive_when_nothing_is_found(archive, energy, no_course_folder, monkeypatch):
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(archive.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(data, "ARCHIVE_URL", f"http://127.0.0.1:{server.server_port}/GEFCom2014.zip")
        pd.testing.assert_frame_equal(load_data(), energy, check_names=False)
    finally:
        server.shutdown()
    assert (no_course_folder / "GEFCom2014.zip").exists() and (no_course_folder / "energy.csv").exists()


def test_offline_error_says_where_to_put_which_file(no_course_folder, monkeypatch):
    monkeypatch.setattr(data, "ARCHIVE_URL", "http://127.0.0.1:9/GEFCom2014.zip")
    with pytest.raises(DataError) as error:
        load_data()
    message = str(error.value)
    assert "could not download" in message
    for words in ("energy.csv", "GEFCom2014-E.xlsx", "GEFCom2014.zip", str(no_course_folder), "RNN_COURSE_DATA"):
        assert words in message


def test_a_path_that_does_not_exist_is_named(tmp_path):
    with pytest.raises(DataError, match="no-such-folder: no such file or folder"):
        load_data(tmp_path / "no-such-folder")


def write_broken(data_dir, tmp_path, change) -> Path:
    lines = (data_dir / "energy.csv").read_text().splitlines()
    path = tmp_path / "energy.csv"
    path.write_text("\n".join(change(lines)) + "\n")
    return path


@pytest.mark.parametrize("change, expected", [
    (lambda lines: lines[:1000], r"expected hours 2012-01-01 00:00:00 to 2014-12-31 23:00:00, found .* the file may be truncated"),
    (lambda lines: ["date,value,t"] + lines[1:], r"columns \['load', 'temp', 'timestamp'\] missing"),
    (lambda lines: lines[:5] + ["2012-01-01 04:00:00,lots,30.0"] + lines[6:], r"column 'load' has text where a number belongs, first at row 6"),
    (lambda lines: lines[:100] + lines[101:], r"1 hour\(s\) missing, first 2012-01-05 03:00:00"),
    (lambda lines: lines[:101] + lines[100:], r"hour 2012-01-05 03:00:00 appears more than once"),
    (lambda lines: lines[:50] + ["2012-01-03 01:00:00,,30.0"] + lines[51:], r"column 'load' has missing values, first at 2012-01-03 01:00:00"),
    (lambda lines: [lines[0], "2012-01-01 00:00:00,9999.0,32.0"] + lines[2:], r"row 1 should be load 2698.0"),
])
def test_a_broken_file_is_named_with_its_problem(data_dir, tmp_path, change, expected):
    path = write_broken(data_dir, tmp_path, change)
    with pytest.raises(DataError, match=expected) as error:
        load_data(path)
    assert str(path) in str(error.value)


def test_a_wrong_kind_of_file_is_refused(tmp_path):
    path = tmp_path / "GEFCom2014.zip"
    path.write_bytes(b"this is not a zip archive")
    with pytest.raises(DataError, match="not a valid zip archive"):
        load_data(path)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare to run offline")
def test_the_demo_without_data_or_network_says_where_to_put_the_data(tmp_path):
    """`make demo` on a machine with neither the data nor internet: the loader's message alone, exit 1."""
    repo = Path(__file__).resolve().parent.parent
    if any((repo / "data").glob("*")):
        pytest.skip("data/ of this checkout holds files: the demo would find them")
    env = dict(os.environ, RNN_COURSE_DATA=str(tmp_path), PYTHONPATH=str(repo))
    done = subprocess.run(["unshare", "--net", sys.executable, "-m", "instructor", "demo"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("The demo needs the GEFCom2014 data:") and "RNN_COURSE_DATA" in done.stderr
