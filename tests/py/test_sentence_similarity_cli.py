"""The sentence_similarity program, run as a user runs it."""

import json
import subprocess

import pytest

PAIRS = [
    ("How do I reset my email password?", "What are the steps to change the password of my mail account?"),
    ("Regular exercise lowers the risk of heart disease.", "Working out often reduces your chances of cardiovascular illness."),
    ("The bakery on the corner sells fresh bread every morning.", "Every morning the corner bakery has freshly baked loaves."),
    ("The river flooded the village after days of heavy rain.", "After several days of downpours, the river burst its banks and flooded the village."),
]


def run(build_dir, *args):
    exe = build_dir / "examples" / "sentence_similarity"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def default_json(build_dir):
    r = run(build_dir, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_json_lists_every_sentence_in_file_order_with_three_neighbours(default_json):
    from pathlib import Path

    shipped = [
        line.strip()
        for line in (Path(__file__).resolve().parents[2] / "examples/data/sentences.txt").read_text().splitlines()
        if line.strip()
    ]
    assert [entry["sentence"] for entry in default_json] == shipped
    for entry in default_json:
        scores = [n["score"] for n in entry["neighbours"]]
        assert len(scores) == 3
        assert scores == sorted(scores, reverse=True)
        assert all(-1.0 <= s <= 1.0 for s in scores)
        assert entry["sentence"] not in [n["sentence"] for n in entry["neighbours"]]


def test_paraphrases_are_nearest_neighbours(default_json):
    by_sentence = {entry["sentence"]: entry for entry in default_json}
    for a, b in PAIRS:
        assert by_sentence[a]["neighbours"][0]["sentence"] == b
        assert by_sentence[b]["neighbours"][0]["sentence"] == a


def test_text_output_with_top_and_a_file(build_dir, tmp_path):
    f = tmp_path / "s.txt"
    f.write_text("I love my dog.\n\nMy puppy makes me happy.\nTaxes are due in April.\n")
    r = run(build_dir, str(f), "--top", "1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "I love my dog."
    assert lines[1].endswith("  My puppy makes me happy.")
    score = float(lines[1].split()[0])
    assert 0.3 < score <= 1.0 and len(lines[1].split()[0].split(".")[1]) == 4
    assert len(lines) == 6


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["/nonexistent/file.txt"], 1, "cannot read '/nonexistent/file.txt'"),
        (["--top", "zero"], 2, "--top needs a positive integer"),
        (["--bogus"], 2, "unknown option '--bogus'"),
    ],
)
def test_errors_are_one_clear_line_and_a_nonzero_exit(build_dir, args, code, message):
    r = run(build_dir, *args)
    assert r.returncode == code
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and message in r.stderr, r.stderr


def test_empty_file_is_an_error(build_dir, tmp_path):
    f = tmp_path / "empty.txt"
    f.write_text("\n  \n")
    r = run(build_dir, str(f))
    assert r.returncode == 1
    assert "contains no sentences" in r.stderr
