"""The judge's own copy of a call's inputs (grader.judge.inputs, issue 18 rows 2-5): expectations
come from what the judge wrote, never from the file after the call; a file the judge still
reads is read without following a link, waiting on a FIFO or reading without end.
(``kit_tests/test_attacks.py`` replaces a real call's sample, as root.)"""

import os

import pytest

from grader.judge import inputs, oracle
from grader.core.paths import DATA_PATH


@pytest.fixture
def sample(tmp_path):
    content = DATA_PATH.read_bytes().splitlines(keepends=True)
    path = tmp_path / "data.csv"
    path.write_bytes(b"".join(content[:201]))
    inputs.keep(path, path.read_bytes())
    yield path
    inputs.forget(tmp_path)


def zeros_like(path):
    header, *rows = path.read_bytes().splitlines()
    zero = b",".join(b"0" for _ in header.split(b","))
    return header + b"\n" + b"".join(zero + b"\n" for _ in rows)


def test_expectations_come_from_the_judges_copy_whatever_the_file_became(sample, tmp_path):
    honest = oracle.expected_metrics("LinearRegression", sample)
    assert honest["rmse"] > 0 and honest["r2"] < 1
    sample.write_bytes(zeros_like(sample))  # row 2: any metric of 0 would be right on this
    assert oracle.expected_metrics("LinearRegression", sample) == honest
    sample.unlink()
    os.mkfifo(sample)  # row 4: opening it would wait for a writer forever
    assert oracle.expected_metrics("LinearRegression", sample) == honest
    assert inputs.split(sample).X_test.shape == (40, 5)
    inputs.forget(tmp_path)
    with pytest.raises(inputs.UnsafeInput, match="not a regular file"):
        inputs.read(sample)


def test_a_file_the_judge_was_not_handed_is_read_safely_or_refused(tmp_path):
    assert inputs.read(DATA_PATH) == DATA_PATH.read_bytes()  # the kit's own dataset
    canary = tmp_path / "secret"
    canary.write_text("secret")
    for target in (canary, "/proc/self/environ", "/dev/zero"):  # rows 3 and 5
        link = tmp_path / f"link-{os.path.basename(str(target))}"
        link.symlink_to(target)
        with pytest.raises(inputs.UnsafeInput, match="cannot be opened safely"):
            inputs.read(link)
    with pytest.raises(inputs.UnsafeInput, match="not a regular file"):
        inputs.safe_read("/dev/zero")
    big = tmp_path / "big.csv"
    with open(big, "wb") as handle:
        handle.truncate(inputs.MAX_BYTES + 1)
    with pytest.raises(inputs.UnsafeInput, match="larger than"):
        inputs.read(big)


def test_fits_are_cached_by_the_copys_content_not_its_path(sample, tmp_path):
    other = tmp_path / "elsewhere.csv"
    inputs.keep(other, inputs.read(sample))
    assert oracle.fitted("LinearRegression", sample) is oracle.fitted("LinearRegression", other)
    inputs.keep(other, zeros_like(sample))
    assert oracle.fitted("LinearRegression", sample) is not oracle.fitted("LinearRegression", other)
