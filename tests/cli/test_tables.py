"""CLI tables have a header row and never cut a value short."""

from __future__ import annotations

import pytest

from billhook.cli.tables import print_table

LONG_KEY = "billhook:coaching_session:eur:v1:" + "x" * 120


def test_a_table_has_headers_and_full_values_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(("product", "lookup key"), [("coaching_session", LONG_KEY), ("pro", "k2")], empty="none")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines[0].split() == ["product", "lookup", "key"]
    assert any(line.split() == ["coaching_session", LONG_KEY] for line in lines)
    assert any(line.split() == ["pro", "k2"] for line in lines)


def test_no_rows_prints_the_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(("id",), [], empty="no jobs")
    assert capsys.readouterr().out == "no jobs\n"
