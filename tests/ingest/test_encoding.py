from pathlib import Path

from portraits.ingest.encoding import SAMPLE_BYTES, detect_encoding


def test_a_gbk_file_whose_first_megabyte_ends_inside_a_character_is_detected(
        tmp_path: Path) -> None:
    # Lines of ASCII and two-byte characters; pad so that byte SAMPLE_BYTES - 1 is the
    # first byte of a two-byte character.
    line = "M10000001,王小明,浙江省杭州市西湖区文三路88号,13800138000\n".encode("gb18030")
    body = line * (SAMPLE_BYTES // len(line) + 10)
    cut = body[:SAMPLE_BYTES]
    lead = next(i for i in range(SAMPLE_BYTES - 1, 0, -1) if cut[i] >= 0x80)
    pad = (SAMPLE_BYTES - 1 - lead) % len(line)
    path = tmp_path / "crm.csv"
    path.write_bytes(b"#" * pad + b"\n" + body)
    data = path.read_bytes()[:SAMPLE_BYTES]
    assert data[-1] >= 0x80  # the megabyte ends inside a character
    assert detect_encoding(path) == "gb18030"


def test_utf8_with_bom_and_plain_utf8_are_told_apart(tmp_path: Path) -> None:
    text = "会员编号,姓名\nM1,王小明\n"
    bom, plain = tmp_path / "bom.csv", tmp_path / "plain.csv"
    bom.write_bytes(text.encode("utf-8-sig"))
    plain.write_bytes(text.encode("utf-8"))
    assert detect_encoding(bom) == "utf-8-sig"
    assert detect_encoding(plain) == "utf-8"
