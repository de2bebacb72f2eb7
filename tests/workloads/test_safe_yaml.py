"""The YAML reader refuses what would crash, hang or silently mislead, with one short message."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from workloads.safe_yaml import MAX_BYTES, MAX_DEPTH, MAX_VALUES, YamlInputError, load_yaml_file, load_yaml_text


def test_plain_documents_load():
    assert load_yaml_text("a: 1\nb: [x, y]\nc: {d: true}\n") == {"a": 1, "b": ["x", "y"], "c": {"d": True}}
    assert load_yaml_text("") is None


def test_aliases_and_merge_keys_within_limits_load():
    text = "base: &b {x: 1}\nuse: *b\nmerged: {<<: *b, y: 2}\n"
    assert load_yaml_text(text) == {"base": {"x": 1}, "use": {"x": 1}, "merged": {"x": 1, "y": 2}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("slo: {a: 1}\nslo: {a: 2}\n", "line 2: duplicate key 'slo'"),
        ("a:\n  b: 1\n  b: 2\n", "line 3: duplicate key 'b'"),
        ("? [a, b]\n: 1\n", "mapping key must be a plain value"),
        ("a: [1, 2\n", "not valid YAML: line"),
        ("a: b\x00c", "NUL characters"),
    ],
)
def test_refusals_name_the_reason(text, expected):
    with pytest.raises(YamlInputError) as info:
        load_yaml_text(text)
    assert expected in str(info.value) and len(str(info.value)) <= 200


def test_deep_nesting_is_refused_without_recursion_error():
    for depth in (MAX_DEPTH + 1, 5000):
        with pytest.raises(YamlInputError, match="nested more than"):
            load_yaml_text("[" * depth + "]" * depth)
    assert load_yaml_text("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)) is not None


def test_alias_bomb_is_refused_quickly_and_briefly():
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    with pytest.raises(YamlInputError) as info:
        load_yaml_text("\n".join(lines))
    assert f"more than {MAX_VALUES:,} values" in str(info.value) and len(str(info.value)) < 120


def test_files_too_large_non_utf8_binary_or_unreadable(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * MAX_BYTES)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00")
    cases = {
        big: "larger than 1024 KiB",
        latin: r"not UTF-8 text \(byte 0xe9 at offset 9\)",
        binary: "not UTF-8 text|NUL characters",
        tmp_path / "missing.yaml": "cannot read the file: No such file or directory",
        tmp_path: "cannot read the file: not a regular file",
        Path("/dev/zero"): "cannot read the file: not a regular file",
        tmp_path / "nul\x00byte.yaml": "cannot read the file: embedded null byte",
    }
    for path, expected in cases.items():
        with pytest.raises(YamlInputError, match=expected):
            load_yaml_file(path)


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufeffa: 1\n".encode())
    assert load_yaml_file(path) == {"a": 1}


def test_deep_flow_nesting_is_refused_before_the_quadratic_scanner(monkeypatch):
    from workloads import safe_yaml

    def no_parser(text):
        raise AssertionError("the parser must not see this text: its scanner is quadratic in the depth")

    monkeypatch.setattr(safe_yaml, "_StrictLoader", no_parser)
    with pytest.raises(YamlInputError, match="nested more than"):
        load_yaml_text("a: " + "[" * 500_000)


def test_brackets_in_quotes_and_comments_do_not_count():
    text = "a: '" + "[" * 100 + "'\nb: \"" + "{" * 100 + '"  # ' + "[" * 100 + "\nc: [1, [2]]\n"
    assert load_yaml_text(text) == {"a": "[" * 100, "b": "{" * 100, "c": [1, [2]]}


def test_plain_scalars_read_as_yaml_1_2_does():
    """As the Pulumi CLI reads stack files (go-yaml v3): only true/false are booleans, no dates."""
    text = "a: yes\nb: on\nc: 2024-01-01\nd: 1:30\ne: 017\nf: true\ng: 1.5e3\nh: .inf\ni: -7\n"
    assert load_yaml_text(text) == {
        "a": "yes", "b": "on", "c": "2024-01-01", "d": "1:30", "e": 17, "f": True, "g": 1500.0, "h": math.inf, "i": -7
    }  # fmt: skip


@pytest.mark.parametrize("tag", ["!!binary aGVsbG8=", "!!set {a}", "!!timestamp 2024-01-01"])
def test_exotic_tags_are_refused(tag):
    with pytest.raises(YamlInputError, match="tag is not supported"):
        load_yaml_text(f"a: {tag}\n")


def test_merged_keys_yield_to_written_ones():
    text = "base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\n"
    assert load_yaml_text(text)["use"] == {"x": 1, "y": 3}
    with pytest.raises(YamlInputError, match="duplicate key 'y'"):
        load_yaml_text("base: &b {x: 1}\nuse: {<<: *b, y: 3, y: 4}\n")


def test_numbers_too_long_to_read_are_one_message():
    with pytest.raises(YamlInputError, match="a number too long to read"):
        load_yaml_text("a: " + "9" * 5000 + "\n")
