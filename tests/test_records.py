"""The results file: durable appends, a cut-off last line dropped, damage elsewhere an error."""
import json
import os

import pytest

from mcts_reason.records import ResultsFile, complete_length, read_records

REC = {"instance": "1 1 4 6", "algo": "mcts", "budget": 8, "seed": 0, "solved": True}


def test_append_read_and_mode(tmp_path):
    path = tmp_path / "sub" / "r.jsonl"
    with ResultsFile(path) as f:
        f.append(REC)
        f.append(dict(REC, seed=1))
    assert [r["seed"] for r in read_records(path).records] == [0, 1]
    assert os.stat(path).st_mode & 0o777 == 0o600


def _line(rec: dict) -> bytes:
    return (json.dumps(rec, sort_keys=True) + "\n").encode()    # as ResultsFile writes it


@pytest.mark.parametrize("tail", [b'{"algo": "mcts", "ans', b"{", _line(REC)[:-2]])
def test_a_cut_off_last_line_is_dropped_and_cut(tmp_path, tail):
    path = tmp_path / "r.jsonl"
    good = _line(REC)
    path.write_bytes(good + tail)
    assert complete_length(path) == (len(good), True)
    assert len(read_records(path).records) == 1
    with ResultsFile(path) as f:
        assert f.dropped_partial
        f.append(dict(REC, seed=1))
    assert [r["seed"] for r in read_records(path).records] == [0, 1]


def test_only_a_partial_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"algo": "mc')
    with ResultsFile(path) as f:
        assert f.dropped_partial
        assert path.read_bytes() == b'{"algo": "mc'     # cut only by the first append
        f.append(REC)
    assert path.read_bytes() == _line(REC)


@pytest.mark.parametrize("tail", [b'{"instance": "1 1', b"x" * 200_000, b'{"notes": "mine"}'])
def test_a_last_line_that_is_not_a_record_start_is_refused_untouched(tmp_path, tail):
    from mcts_reason.records import NotResultsFile
    path = tmp_path / "r.jsonl"
    path.write_bytes(_line(REC) + tail)
    with pytest.raises(NotResultsFile, match="not a results file"):
        ResultsFile(path)
    assert path.read_bytes() == _line(REC) + tail


def test_damage_before_the_end_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(REC) + "\n{oops\n" + json.dumps(dict(REC, seed=2)) + "\n")
    with pytest.raises(ValueError, match=rf"^{path}:2: damaged line"):
        read_records(path)
    path.write_text(json.dumps(REC) + "\n" + json.dumps({"hello": 1}) + "\n")
    with pytest.raises(ValueError, match=rf"^{path}:2: not a bench record"):
        read_records(path)
