"""Set readers: named sets, text, JSONL and the 4nums CSV, with bad rows named by file and line."""
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mcts_reason.sets import InstanceSet, read_csv, read_set
from mcts_reason_puzzles.game24 import Game24

G = Game24()
CSV_HEAD = "Rank,Puzzles,AMT (s),Solved rate,1-sigma Mean (s),1-sigma STD (s)\n"


def test_named_set_is_the_puzzles_own():
    s = read_set(G, "every")      # (hard100 would cost seconds of ranking; same code path)
    assert s.instances == tuple(G.instance_set("every"))
    assert len(s) == 1820 and s.name == "every"


def test_text_file_skips_blanks_and_comments(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("# my set\n4 9 10 13\n\n  1 1 4 6  \n")
    assert read_set(G, str(p)).instances == ("4 9 10 13", "1 1 4 6")


def test_jsonl(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(json.dumps({"instance": "4 9 10 13", "id": 1}) + "\n\n"
                 + json.dumps({"instance": "1 1 4 6"}) + "\n")
    assert read_set(G, str(p)).instances == ("4 9 10 13", "1 1 4 6")


def test_csv_rank_range(tmp_path):
    p = tmp_path / "24.csv"
    rows = [f"{i},{a},4.4,99.20%,4.67,1.48\n" for i, a in
            enumerate(["1 1 4 6", "1 1 11 11", "1 1 3 8", "1 1 1 8"], 1)]
    p.write_text(CSV_HEAD + "".join(rows))
    assert read_set(G, f"{p}:2-3").instances == ("1 1 11 11", "1 1 3 8")
    assert len(read_set(G, str(p))) == 4


def test_the_shared_tot_csv_gives_100_puzzles():
    import pathlib
    # ../shared relative to the repository root (the project's data convention, never a path of
    # one machine); the product and the default tests never depend on it.
    root = pathlib.Path(__file__).resolve().parents[1]
    path = root / ".." / "shared" / "data" / "game24_4nums.csv"
    if not path.exists():
        pytest.skip("the shared 4nums table is not on this machine")
    s = read_set(G, f"{path}:901-1000")
    assert len(s) == 100 and all(G.parse_instance(t) for t in s.instances)


@pytest.mark.parametrize("name,text,line,words", [
    ("bad.txt", "4 9 10 13\n\n4 9 10\n", 3, "need 4 numbers"),
    ("bad.txt", "4 9 10 13\n1 2 3 x\n", 2, "not a whole number"),
    ("dup.txt", "4 9 10 13\n1 1 4 6\n13 10 9 4\n", 3, "repeats line 1"),
    ("bad.jsonl", '{"instance": "4 9 10 13"}\n{"instance": 4}\n', 2, '"instance"'),
    ("bad.jsonl", '{"instance": "4 9 10 13"}\n{"instance": "4 9\n', 2, "not valid JSON"),
    ("bad.jsonl", '{"instance": "4 9 10 13"}\n["4 9 10 13"]\n', 2, '"instance"'),
    ("bad.jsonl", '{"instance": "4 9 10 13"}\n{"instance": "1 1 1 99"}\n', 2, "1-13"),
    ("bad.csv", CSV_HEAD + "1,1 1 4 6,4.4,99%,4.6,1.4\n2,1 1 11,4.4,99%,4.6,1.4\n", 3,
     "need 4 numbers"),
    ("bad.csv", CSV_HEAD + "1,1 1 4 6,4.4,99%,4.6,1.4\n2,1 1 11 11,4.4\n", 3, "fields"),
    ("bad.csv", CSV_HEAD + "one,1 1 4 6,4.4,99%,4.6,1.4\n", 2, "Rank"),
    ("bad.csv", "Rank,Numbers\n1,1 1 4 6\n", 1, "Puzzles"),
])
def test_bad_rows_name_file_and_line(tmp_path, name, text, line, words):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(ValueError) as e:
        read_set(G, str(p))
    msg = str(e.value)
    assert msg.startswith(f"{p}:{line}:"), msg
    assert words in msg
    assert "\n" not in msg


def test_unknown_set_and_bad_ranges(tmp_path):
    with pytest.raises(ValueError, match="neither a named set of game24"):
        read_set(G, "no-such-set")
    p = tmp_path / "24.csv"
    p.write_text(CSV_HEAD + "1,1 1 4 6,4.4,99%,4.6,1.4\n")
    with pytest.raises(ValueError, match="no rows with Rank in 5-9"):
        read_set(G, f"{p}:5-9")
    with pytest.raises(ValueError, match="empty rank range"):
        read_set(G, f"{p}:9-5")
    t = tmp_path / "s.txt"
    t.write_text("1 1 4 6\n")
    with pytest.raises(ValueError, match="needs a .csv"):
        read_set(G, f"{t}:1-2")
    e = tmp_path / "empty.txt"
    e.write_text("# nothing\n")
    with pytest.raises(ValueError, match="no instances"):
        read_set(G, str(e))
    with pytest.raises(ValueError, match="needs a 'Rank' column"):
        q = tmp_path / "norank.csv"
        q.write_text("Puzzles\n1 1 4 6\n")
        read_csv(q, ranks=(1, 2))


def test_content_hash_ignores_spelling_not_content(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("1 1 4 6\n")
    b.write_text("# same content\n1 1 4 6\n")
    assert read_set(G, str(a)).sha256 == read_set(G, str(b)).sha256
    assert InstanceSet("x", ("1 1 4 6",)).sha256 != InstanceSet("x", ("1 1 3 8",)).sha256


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("0123456789 ,\n#{}\":abcinstance-\t/")),
                    max_size=80),
       suffix=st.sampled_from([".txt", ".jsonl", ".csv"]))
def test_readers_only_ever_raise_a_located_value_error(tmp_path, text, suffix):
    p = tmp_path / f"fuzz{suffix}"
    p.write_text(("Rank,Puzzles\n" if suffix == ".csv" else "") + text)
    try:
        s = read_set(G, str(p))
    except ValueError as e:
        assert str(e).startswith(str(p)) and "\n" not in str(e)
    else:
        assert all(G.parse_instance(t) for t in s.instances)


@pytest.mark.parametrize("name", ["blocksworld", "countdown", "game24", "sliding", "sudoku"])
def test_no_named_set_of_a_built_in_puzzle_lists_an_instance_twice(name):
    """bench runs each line of a set; a repeated instance is recorded twice and resume/report
    then refuse the file. Checked as written and as the puzzle renders the initial state (so
    '13 4 9 10' and '4 9 10 13' count as one). Sliding's easy8 once drew a board twice."""
    from mcts_reason import registry
    puzzle = registry.load(name)
    assert puzzle.named_sets()
    for set_name in puzzle.named_sets():
        texts = puzzle.instance_set(set_name)
        assert texts, set_name
        assert len(set(texts)) == len(texts), (set_name, [t for t in texts if texts.count(t) > 1])
        rendered = [puzzle.render(puzzle.parse_instance(t)) for t in texts]
        assert len(set(rendered)) == len(rendered), set_name


def test_sliding_easy8_keeps_its_first_distinct_boards():
    """The fix for easy8's repeat replaces the repeat only: the set's first distinct boards are
    those the generator draws, in order (an independent redraw with the set's own seed)."""
    import numpy as np

    from mcts_reason import registry
    sliding = registry.load("sliding")
    drawn = sliding.generate(20, rng=np.random.default_rng(8012), width=3, depth=12)
    distinct = list(dict.fromkeys(drawn))
    assert len(distinct) < 20                      # the generator does repeat one board
    got = sliding.instance_set("easy8")
    assert got[:len(distinct)] == distinct and len(got) == 20
