"""Find, fetch, read and check the GEFCom2014 hourly load and temperature data.

`load_data()` looks for the data in this order and uses the first place that has it:

1. the path passed in (a folder, or the file itself);
2. the folder or file named by the environment variable ``RNN_COURSE_DATA``;
3. the course data folder (``data/`` at the top of the course repository, or
   ``~/.cache/rnn_course`` when the package is installed elsewhere).

In a folder it takes ``energy.csv``, else the competition workbook ``GEFCom2014-E.xlsx``,
else the competition archive ``GEFCom2014.zip``. When none of these is found anywhere it
downloads the archive from the tutorial's public link into the course data folder.
Whatever it reads is checked; a failed check raises `DataError` naming the file and the problem.
"""

from __future__ import annotations

import io
import os
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

ENV_VAR = "RNN_COURSE_DATA"
ARCHIVE_URL = "https://www.dropbox.com/s/pqenrr2mcvl0hk9/GEFCom2014.zip?dl=1"
CSV_NAME = "energy.csv"
XLSX_NAME = "GEFCom2014-E.xlsx"
ZIP_NAME = "GEFCom2014.zip"
INNER_ZIP = "GEFCom2014-E_V2.zip"

# Facts from the data's README that every correct copy satisfies.
FIRST_HOUR = pd.Timestamp("2012-01-01 00:00:00")
LAST_HOUR = pd.Timestamp("2014-12-31 23:00:00")
N_ROWS = 26_304
FIRST_ROWS = [(2698.0, 32.0), (2558.0, 32.67)]
LOAD_RANGE = (1_979.0, 5_224.0)
TEMP_RANGE = (-13.67, 95.0)


class DataError(Exception):
    """The data could not be found, read, or did not pass a check."""


def course_data_dir() -> Path:
    """The course's own data folder: ``data/`` in a course checkout, else a user cache folder."""
    repo = Path(__file__).resolve().parent.parent
    if (repo / "nbgrader_config.py").exists():
        return repo / "data"
    return Path.home() / ".cache" / "rnn_course"


def _candidates(path) -> list[Path]:
    places = []
    if path is not None:
        places.append(Path(path))
    if os.environ.get(ENV_VAR):
        places.append(Path(os.environ[ENV_VAR]))
    places.append(course_data_dir())
    return places


def _find_in(place: Path) -> Path | None:
    if place.is_file():
        return place
    for name in (CSV_NAME, XLSX_NAME, ZIP_NAME):
        if (place / name).is_file():
            return place / name
    return None


def find_data_file(path=None, download: bool = True) -> Path:
    """Return the first data file found (see the module docstring), downloading it if allowed."""
    places = _candidates(path)
    if path is not None and not Path(path).exists():
        raise DataError(f"{path}: no such file or folder. Pass the folder holding {CSV_NAME}, "
                        f"{XLSX_NAME} or {ZIP_NAME}, or the file itself.")
    for place in places:
        found = _find_in(place)
        if found is not None:
            return found
    target = course_data_dir()
    if not download:
        raise DataError(_where_to_put(places, target))
    return download_archive(target, places)


def _where_to_put(places, target) -> str:
    looked = ", ".join(str(p) for p in places)
    return (f"GEFCom2014 data not found (looked in: {looked}). Put {CSV_NAME}, {XLSX_NAME} or "
            f"{ZIP_NAME} into {target}, or set {ENV_VAR} to the folder that holds one of them. "
            f"The archive is {ZIP_NAME} from {ARCHIVE_URL}")


def download_archive(target: Path, places=(), url: str | None = None, timeout: float = 60) -> Path:
    """Download the competition archive into `target` and return its path."""
    url = url or ARCHIVE_URL
    target.mkdir(parents=True, exist_ok=True)
    dest = target / ZIP_NAME
    print(f"Downloading GEFCom2014 data from {url} to {dest} ...")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
    except OSError as error:
        raise DataError(f"could not download the data ({error}). " + _where_to_put(places, target)) from error
    partial = dest.with_suffix(".part")
    partial.write_bytes(payload)
    partial.replace(dest)
    return dest


def _workbook_from_archive(archive: Path) -> io.BytesIO:
    """The bytes of GEFCom2014-E.xlsx from the competition archive (which nests a second zip)."""
    try:
        with zipfile.ZipFile(archive) as outer:
            inner_name = next((n for n in outer.namelist() if n.endswith(INNER_ZIP)), None)
            if inner_name is None:
                raise DataError(f"{archive}: no {INNER_ZIP} inside; is this the GEFCom2014 archive?")
            with zipfile.ZipFile(io.BytesIO(outer.read(inner_name))) as inner:
                xlsx_name = next((n for n in inner.namelist() if n.endswith(XLSX_NAME)), None)
                if xlsx_name is None:
                    raise DataError(f"{archive}: no {XLSX_NAME} inside {inner_name}")
                return io.BytesIO(inner.read(xlsx_name))
    except zipfile.BadZipFile as error:
        raise DataError(f"{archive}: not a valid zip archive ({error}); delete it and download again") from error


def _frame_from_workbook(source, name) -> pd.DataFrame:
    try:
        book = pd.read_excel(source)
    except Exception as error:  # openpyxl raises many types for a damaged workbook
        raise DataError(f"{name}: cannot read the workbook ({error})") from error
    missing = {"Date", "Hour", "load", "T"} - set(book.columns)
    if missing:
        raise DataError(f"{name}: columns {sorted(missing)} missing; found {list(book.columns)}")
    if not pd.api.types.is_numeric_dtype(book["Hour"]):
        raise DataError(f"{name}: column 'Hour' is not numeric")
    stamps = pd.to_datetime(book["Date"]) + pd.to_timedelta(book["Hour"] - 1, unit="h")
    frame = pd.DataFrame({"timestamp": stamps, "load": book["load"], "temp": book["T"]})
    return frame[frame["timestamp"] >= FIRST_HOUR].reset_index(drop=True)


def _frame_from_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read as CSV ({error})") from error
    missing = {"timestamp", "load", "temp"} - set(frame.columns)
    if missing:
        raise DataError(f"{path}: columns {sorted(missing)} missing; expected timestamp,load,temp and "
                        f"found {list(frame.columns)}. Is this the GEFCom2014 energy.csv?")
    return frame


def _numeric(frame: pd.DataFrame, column: str, name) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{name}: column '{column}' has text where a number belongs, first at row {row + 2} "
                        f"({frame['timestamp'].iloc[row]}): {frame[column].iloc[row]!r}")
    return values.astype("float64")


def check_energy(frame: pd.DataFrame, name) -> pd.DataFrame:
    """Check a frame with columns timestamp, load, temp; return it indexed by hourly timestamps."""
    stamps = pd.to_datetime(frame["timestamp"], errors="coerce")
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise DataError(f"{name}: timestamp at row {row + 2} is not a date: {frame['timestamp'].iloc[row]!r}")
    frame = frame.assign(timestamp=stamps)
    load = _numeric(frame, "load", name)
    temp = _numeric(frame, "temp", name)
    energy = pd.DataFrame({"load": load.to_numpy(), "temp": temp.to_numpy()},
                          index=pd.DatetimeIndex(stamps, name=None))
    duplicated = energy.index[energy.index.duplicated()]
    if len(duplicated):
        raise DataError(f"{name}: hour {duplicated[0]} appears more than once")
    if not energy.index.is_monotonic_increasing:
        energy = energy.sort_index()
    if len(energy) == 0 or energy.index[0] != FIRST_HOUR or energy.index[-1] != LAST_HOUR:
        span = f"{energy.index[0]} to {energy.index[-1]}" if len(energy) else "no rows"
        raise DataError(f"{name}: expected hours {FIRST_HOUR} to {LAST_HOUR}, found {span} "
                        f"({len(energy)} rows); the file may be truncated")
    expected = pd.date_range(FIRST_HOUR, LAST_HOUR, freq="h")
    missing = expected.difference(energy.index)
    if len(missing):
        raise DataError(f"{name}: {len(missing)} hour(s) missing, first {missing[0]}")
    if len(energy) != N_ROWS:
        raise DataError(f"{name}: expected {N_ROWS} hourly rows, found {len(energy)}")
    for column in ("load", "temp"):
        if energy[column].isna().any():
            first = energy.index[energy[column].isna()][0]
            raise DataError(f"{name}: column '{column}' has missing values, first at {first}")
    for row, (load0, temp0) in enumerate(FIRST_ROWS):
        found = tuple(energy.iloc[row])
        if abs(found[0] - load0) > 0.5 or abs(found[1] - temp0) > 0.01:
            raise DataError(f"{name}: row {row + 1} should be load {load0}, temp {temp0}; found {found}")
    for column, (low, high) in (("load", LOAD_RANGE), ("temp", TEMP_RANGE)):
        lo, hi = energy[column].min(), energy[column].max()
        if lo < low - 0.01 or hi > high + 0.01:
            raise DataError(f"{name}: {column} should lie between {low} and {high}; found {lo} to {hi}")
    energy.index.freq = "h"
    return energy


def read_energy(path: Path) -> pd.DataFrame:
    """Read and check one data file (energy.csv, GEFCom2014-E.xlsx or GEFCom2014.zip)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = _frame_from_csv(path)
    elif suffix == ".xlsx":
        frame = _frame_from_workbook(path, path)
    elif suffix == ".zip":
        frame = _frame_from_workbook(_workbook_from_archive(path), f"{path} ({XLSX_NAME})")
    else:
        raise DataError(f"{path}: unknown kind of file; expected {CSV_NAME}, {XLSX_NAME} or {ZIP_NAME}")
    return check_energy(frame, path)


def load_data(data_dir=None, download: bool = True) -> pd.DataFrame:
    """Load GEFCom2014 hourly `load` and `temp` (2012-01-01 00:00 to 2014-12-31 23:00, 26,304 rows).

    `data_dir` may be a folder or a file. The result is indexed by hourly timestamps. A workbook or
    archive is converted once to ``energy.csv`` beside it (when that folder is writable) so that
    the next load is fast.
    """
    path = find_data_file(data_dir, download=download)
    energy = read_energy(path)
    if path.suffix.lower() != ".csv":
        _cache_csv(energy, path.parent / CSV_NAME)
    return energy


def _cache_csv(energy: pd.DataFrame, dest: Path) -> None:
    if dest.exists() or not os.access(dest.parent, os.W_OK):
        return
    out = energy.rename_axis("timestamp").reset_index()
    out.to_csv(dest.with_suffix(".part"), index=False)
    dest.with_suffix(".part").replace(dest)
