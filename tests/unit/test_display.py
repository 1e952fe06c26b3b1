"""rnnbook.book.display: static tables and glued facts for the chapters."""

import pandas as pd
import pytest

from rnnbook.book import display


def test_table_is_static_html_with_the_asked_formats():
    rows = [{"method": "MSGD", "solved": 3, "rate": 0.6, "updates": 12345, "note": None, "lr": 0.01}]
    html = display.html(rows, formats={"rate": "{:.0%}", "updates": "{:,}"}, caption="Runs solved")
    assert "<script" not in html and "http" not in html            # offline: no script, no CDN
    assert ">60%<" in html and ">12,345<" in html                  # formats kept
    assert ">0.01<" in html and ">3<" in html                      # other values as Python prints them
    assert f">{display.MISSING}<" in html                          # a missing value shows a dash
    assert "<caption>Runs solved</caption>" in html
    assert "row0_col1" in html and "text-align: right" in html    # numeric columns aligned right
    assert "level0 row0" not in html                               # no index column


def test_table_accepts_lists_with_columns_and_dataframes_and_is_stable():
    a = display.html([["a", 1], ["b", 2]], ["name", "n"])
    b = display.html(pd.DataFrame({"name": ["a", "b"], "n": [1, 2]}))
    assert a == b                                                  # same content, same HTML (ids from a hash)
    assert a != display.html([["a", 1], ["b", 3]], ["name", "n"])
    with pytest.raises(ValueError, match="columns"):
        display.table([["a", 1]])


def test_table_keeps_inline_html_unless_asked_to_escape():
    assert "W<sub>rec</sub>" in display.html([{"W<sub>rec</sub>": 1}])
    assert "&lt; 1 %" in display.html([{"criterion": "< 1 %"}], escape=True)


def test_glue_all_glues_every_fact_with_its_prefix(monkeypatch):
    seen = []
    monkeypatch.setattr(display, "glue", lambda name, value, display=True: seen.append((name, value, display)))
    display.glue_all({"finished": 40, "caps": "10,000"}, prefix="p_")
    assert seen == [("p_finished", 40, False), ("p_caps", "10,000", False)]
