"""JSON lines: Arrow's parse and the line-by-line Python one give the same text; bad lines
are named by their line number wherever they fall."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from portraits.errors import PortraitsError
from portraits.ingest import jsonlines
from portraits.ingest.jsonlines import read_jsonl
from portraits.ingest.readers import TextRows


def _write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def _python_only(monkeypatch: pytest.MonkeyPatch, path: Path, encoding: str = "auto",
                 whole: set[str] | None = None) -> TextRows:
    with monkeypatch.context() as patch:
        patch.setattr(jsonlines, "_arrow_table", lambda _lines: None)
        return read_jsonl(path, encoding, whole)


def _rows(read: TextRows) -> list[dict[str, str | None]]:
    """Rows without the ``_file`` column, keys with a value only (column order and
    absent columns do not matter)."""
    return [{k: v for k, v in row.items() if v is not None and k != "_file"}
            for row in read.table.to_pylist()]


def _messy_records(count: int, seed: int) -> list[str]:
    """Lines whose values change type, nest, hold lists, escapes, big and small numbers."""
    rng = random.Random(seed)
    values: list[object] = [
        "text", "二〇二六年", 'quote " and \\ back', "tab\tnew\nline", "bell\x07", 0, -7,
        12.0, 12.5, 1e-7, 3.14e20, 2**70, True, False, None, [1, "a", None], [],
        {"k": 1, "a": None}, {}, "2026-10-01 08:00:00", "2026-10-01"]
    lines = []
    for i in range(count):
        record: dict[str, object] = {"id": f"e{i}", "n": rng.choice(values)}
        if rng.random() < 0.7:
            record["properties"] = {"price": rng.choice(values), "sku": rng.choice(values),
                                    "deep": {"x": rng.choice(values)}}
        if rng.random() < 0.3:
            record["when"] = rng.choice(["2026-10-01 08:00:00", "2026-10-01T08:00:00Z"])
        lines.append(json.dumps(record, ensure_ascii=rng.random() < 0.5))
    return lines


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_arrow_and_python_read_the_same_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             seed: int) -> None:
    path = _write(tmp_path / "messy.jsonl", _messy_records(3000, seed))
    for whole in ({"properties"}, None):
        fast = read_jsonl(path, "auto", whole)
        slow = _python_only(monkeypatch, path, "auto", whole)
        assert _rows(fast) == _rows(slow)
        assert fast.problems == slow.problems == []


def test_uniform_blocks_go_through_arrow_and_keep_the_text(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    lines = [json.dumps({"messageId": f"m{i}", "timestamp": "2026-10-01 08:00:00",
                         "revenue": [12.5, 3.0, 0.00001, 10**17 + 0.0][i % 4],
                         "properties": {"sku": f"S{i}", "名": "奶粉\"\\", "n": i % 3 or None},
                         "flag": i % 2 == 0}, ensure_ascii=False) for i in range(2000)]
    path = _write(tmp_path / "events.jsonl", lines)
    calls: list[int] = []
    parse = jsonlines._arrow_table

    def counted(block: list[bytes]) -> object:
        table = parse(block)
        calls.append(table is not None)
        return table

    monkeypatch.setattr(jsonlines, "_arrow_table", counted)
    read = read_jsonl(path, "auto", {"properties"})
    assert calls == [True]  # one block, parsed by Arrow
    first, second, third, fourth = read.table.to_pylist()[:4]
    assert first["timestamp"] == "2026-10-01 08:00:00"  # not a typed timestamp
    assert first["revenue"] == "12.5" and first["flag"] == "true"
    assert json.loads(first["properties"]) == {"sku": "S0", "名": "奶粉\"\\"}
    assert first["properties"] == '{"sku": "S0", "名": "奶粉\\"\\\\"}'
    assert [r["revenue"] for r in (second, third, fourth)] == ["3", "1e-05", "1e+17"]
    assert (second["properties.n"], fourth["properties.n"]) == ("1", None)
    monkeypatch.undo()
    assert _rows(read) == _rows(_python_only(monkeypatch, path, whole={"properties"}))


def test_bad_lines_are_found_by_number_in_a_large_file(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [json.dumps({"id": f"e{i}", "v": i}) for i in range(5000)]
    lines[1234] = '{"id": "broken", "v": '
    lines[4000] = "[1, 2]"
    lines[4500] = ""  # blank lines are skipped, not numbered again
    path = _write(tmp_path / "big.jsonl", lines)
    monkeypatch.setattr(jsonlines, "BLOCK_BYTES", 20_000)  # several blocks
    read = read_jsonl(path)
    assert [(p.row, p.rule) for p in read.problems] == [(1235, "malformed_json"),
                                                        (4001, "malformed_json")]
    assert read.problems[0].text == '{"id": "broken", "v": '
    assert "not an object" in read.problems[1].reason
    rows = read.table.to_pylist()
    assert len(rows) == 4997
    assert [r["_row"] for r in rows] == sorted(r["_row"] for r in rows)
    assert {r["id"]: r["_row"] for r in rows}["e4999"] == 5000
    assert {r["id"]: r["_row"] for r in rows}["e1233"] == 1234


def test_invalid_utf8_bytes_past_the_checked_start_reject_the_line_only(tmp_path: Path
                                                                         ) -> None:
    # The first megabyte is checked when the encoding is chosen (a wrong encoding fails
    # the file); a bad line after it fails that line alone.
    good = b"".join(b'{"id": "e%07d"}\n' % i for i in range(70_000))
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(good + b'{"id": "\xff\xfe"}\n{"id": "last"}\n')
    read = read_jsonl(path, "utf-8")
    assert read.table.num_rows == 70_001
    assert read.table.column("id").to_pylist()[-1] == "last"
    assert [(p.row, p.rule) for p in read.problems] == [(70_001, "malformed_json")]
    assert "not valid utf-8" in read.problems[0].reason


def test_gb18030_and_bom_files(tmp_path: Path) -> None:
    lines = [json.dumps({"name": "张三", "city": "广州"}, ensure_ascii=False)] * 3
    gbk = read_jsonl(_write(tmp_path / "gbk.jsonl", lines, "gb18030"), "gb18030")
    bom = read_jsonl(_write(tmp_path / "bom.jsonl", lines, "utf-8-sig"))
    for read in (gbk, bom):
        assert read.table.column("name").to_pylist() == ["张三"] * 3
        assert read.table.column("_row").to_pylist() == [1, 2, 3]


def test_utf16_files_are_read_whole_as_text(tmp_path: Path) -> None:
    lines = [json.dumps({"name": "张三", "n": i}, ensure_ascii=False) for i in range(3)]
    for encoding in ("utf-16", "utf-16-le"):
        path = tmp_path / f"{encoding}.jsonl"
        bom = "\ufeff" if encoding == "utf-16-le" else ""
        path.write_bytes((bom + "\n".join(lines) + "\n").encode(encoding))
        read = read_jsonl(path, encoding)
        assert read.table.column("name").to_pylist() == ["张三"] * 3, encoding
        assert read.table.column("n").to_pylist() == ["0", "1", "2"]
        assert read.problems == []


def test_a_file_of_blank_lines_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "blank.jsonl"
    path.write_text("\n  \n\n", encoding="utf-8")
    with pytest.raises(PortraitsError, match="has no records"):
        read_jsonl(path)


def test_empty_objects_are_rows(tmp_path: Path) -> None:
    read = read_jsonl(_write(tmp_path / "empty.jsonl", ["{}", "{}"]))
    assert read.table.num_rows == 2
    assert read.table.column("_row").to_pylist() == [1, 2]
