"""Write the hostile JSON corpus: malformed and unusual response bodies, with outcomes.

Usage, from the repository root:

    python tests/data/make_hostile_corpus.py          # rewrite tests/data/hostile/
    python tests/data/make_hostile_corpus.py --check  # exit 1 if the files differ

Each case is one response body, the Content-Type it is served with, and the outcome
that `enrich` must produce, stored in `hostile/manifest.json`:

- `"invalid"`: the call raises an `ExtapiError` whose `code` is one of `codes`.
- `"valid"`: the call succeeds. The column mapped with `$` (dtype `object`) contains
  `document`, and the string column mapped with `$.s` contains `text`.
- `"empty"`: the call succeeds with null columns (an empty body counts as no content).

The expected values are written down here by hand, not computed by a JSON parser, so
the corpus checks the library's parser rather than repeating it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["HostileCase", "build_cases", "differences", "main", "write_corpus"]

CORPUS_DIR = Path(__file__).resolve().parent / "hostile"
MANIFEST = "manifest.json"
JSON_TYPE = "application/json"

# A compact document with two- and three-byte UTF-8 characters, so that some cuts
# fall inside a character (invalid UTF-8) and others between tokens (invalid JSON).
SAMPLE = (
    '{"campaign":"C-1","s":"Café €5","offer":{"price":12.5,"tags":["a","b"],'
    '"active":true,"note":null,"count":-3e2}}'
).encode()

SYNTAX = ["invalid_json"]
CHARSET = ["decode_error"]
INFINITE = ["validation_failed"]


@dataclass(frozen=True)
class HostileCase:
    """One body and the outcome `enrich` must give for it.

    Attributes:
        name: File stem, unique in the corpus.
        body: The raw response body.
        expect: `"invalid"`, `"valid"` or `"empty"`.
        codes: For `"invalid"`, the accepted `ExtapiError.code` values.
        document: For `"valid"`, the parsed document.
        text: For `"valid"`, the value of the `$.s` string column (None for null).
        content_type: The Content-Type header the body is served with.
        note: What the case is about, in a few words.
    """

    name: str
    body: bytes
    expect: str
    codes: list[str] = field(default_factory=list)
    document: Any = None
    text: str | None = None
    content_type: str = JSON_TYPE
    note: str = ""


def _invalid(
    name: str,
    body: bytes | str,
    codes: list[str],
    note: str,
    content_type: str = JSON_TYPE,
) -> HostileCase:
    raw = body.encode() if isinstance(body, str) else body
    return HostileCase(
        name, raw, "invalid", codes=codes, note=note, content_type=content_type
    )


def _valid(
    name: str,
    body: bytes | str,
    document: Any,
    note: str,
    *,
    text: str | None = None,
    content_type: str = JSON_TYPE,
) -> HostileCase:
    raw = body.encode() if isinstance(body, str) else body
    return HostileCase(
        name,
        raw,
        "valid",
        document=document,
        text=text,
        note=note,
        content_type=content_type,
    )


def truncations() -> list[HostileCase]:
    """Return the sample cut after every byte but the last (an empty cut is empty)."""
    cases = []
    for size in range(1, len(SAMPLE)):
        prefix = SAMPLE[:size]
        try:
            prefix.decode("utf-8")
        except UnicodeDecodeError:
            codes = CHARSET  # the cut fell inside a multi-byte character
        else:
            codes = SYNTAX
        cases.append(
            _invalid(
                f"truncated_{size:03d}", prefix, codes, f"sample cut to {size} bytes"
            )
        )
    return cases


def structure() -> list[HostileCase]:
    """Return unbalanced brackets, trailing commas, quotes and comments."""
    bodies = {
        "unclosed_object": '{"a":1',
        "extra_close_brace": '{"a":1}}',
        "unclosed_array": "[1,2",
        "extra_close_bracket": "[1,2]]",
        "mismatched_brackets": '{"a":[1,2}',
        "lone_close_bracket": "]",
        "lone_close_brace": "}",
        "unclosed_inner_object": '{"a":{"b":1}',
        "unclosed_nested_arrays": "[[[]]",
        "two_documents": '{"a":1}{"b":2}',
        "trailing_comma_object": '{"a":1,}',
        "trailing_comma_array": "[1,2,]",
        "trailing_comma_inner": '{"a":[1,],"b":2}',
        "leading_comma": "[,1]",
        "double_comma": "[1,,2]",
        "missing_colon": '{"a" 1}',
        "missing_value": '{"a":}',
        "unquoted_key": "{a:1}",
        "single_quoted_key": "{'a':1}",
        "single_quoted_value": "{\"s\":'x'}",
        "block_comment": '{"a":1 /* note */}',
        "line_comment": '{"a":1} // note',
        "hash_comment": '# note\n{"a":1}',
        "unterminated_string": '{"s":"abc}',
        "python_literals": '{"a":True,"b":None}',
        "bare_word": "hello",
        "html_error_page": "<html><body>502 Bad Gateway</body></html>",
        "xml_document": '<?xml version="1.0"?><a>1</a>',
    }
    return [
        _invalid(name, body, SYNTAX, name.replace("_", " "))
        for name, body in bodies.items()
    ]


def strings() -> list[HostileCase]:
    """Return control characters and escapes inside strings, valid and not."""
    cases = [
        _invalid(
            f"control_{code:02x}_in_string",
            b'{"s":"a' + bytes([code]) + b'b"}',
            SYNTAX,
            f"raw control character U+{code:04X} in a string",
        )
        for code in (0x00, 0x01, 0x08, 0x09, 0x0A, 0x0D, 0x1B, 0x1F)
    ]
    invalid_escapes = {
        "escape_hex_x": r'{"s":"\x41"}',
        "escape_unknown_q": r'{"s":"\q"}',
        "escape_single_quote": r'{"s":"\'"}',
        "escape_short_unicode": r'{"s":"\u12"}',
        "escape_bad_hex_digit": r'{"s":"\u12G4"}',
        "escape_at_end": '{"s":"abc\\',
        "escape_octal": r'{"s":"\101"}',
    }
    cases += [
        _invalid(name, body, SYNTAX, name.replace("_", " "))
        for name, body in invalid_escapes.items()
    ]
    cases += [
        _valid(
            "delete_char_in_string",
            b'{"s":"a\x7fb"}',
            {"s": "a\x7fb"},
            "U+007F is not a control character in JSON",
            text="a\x7fb",
        ),
        _valid(
            "escaped_nul",
            r'{"s":"a\u0000b"}',
            {"s": "a\x00b"},
            "an escaped NUL is a valid character",
            text="a\x00b",
        ),
        _valid(
            "all_short_escapes",
            r'{"s":"\"\\\/\b\f\n\r\t"}',
            {"s": '"\\/\b\f\n\r\t'},
            "every two-character escape",
            text='"\\/\b\f\n\r\t',
        ),
        _valid(
            "escaped_pair",
            r'{"s":"\ud83d\ude00"}',
            {"s": "\U0001f600"},
            "a surrogate pair escape is one character",
            text="\U0001f600",
        ),
    ]
    # Lone surrogates are valid JSON syntax, but UTF-8, and so pandas' Arrow-backed
    # strings, cannot hold them: every extracted value has them replaced by U+FFFD.
    lone = {
        "lone_high_surrogate": ("\\ud800", "\ufffd"),
        "lone_low_surrogate": ("\\udc00", "\ufffd"),
        "reversed_surrogates": ("\\udc00\\ud800", "\ufffd\ufffd"),
        "high_surrogate_then_letter": ("\\ud800A", "\ufffdA"),
    }
    for name, (escaped, shown) in lone.items():
        cases.append(
            _valid(
                name,
                '{"s":"' + escaped + '"}',
                {"s": shown},
                name.replace("_", " "),
                text=shown,
            )
        )
    return cases


def encodings() -> list[HostileCase]:
    """Return invalid UTF-8, byte-order marks, NUL bytes and charset labels."""
    utf16 = '{"s":"é"}'.encode("utf-16")  # with its byte-order mark
    cases = [
        _invalid("invalid_utf8_ff", b'{"s":"\xff"}', CHARSET, "byte 0xFF"),
        _invalid("overlong_slash", b'{"s":"\xc0\xaf"}', CHARSET, "overlong '/'"),
        _invalid("truncated_euro", b'{"s":"\xe2\x82"}', CHARSET, "cut multi-byte"),
        _invalid(
            "five_byte_sequence",
            b'{"s":"\xf8\x88\x80\x80\x80"}',
            CHARSET,
            "five-byte form",
        ),
        _invalid(
            "above_max_code_point",
            b'{"s":"\xf4\x90\x80\x80"}',
            CHARSET,
            "code point over U+10FFFF",
        ),
        _invalid(
            "encoded_surrogate",
            b'{"s":"\xed\xa0\x80"}',
            CHARSET,
            "a surrogate encoded in UTF-8",
        ),
        _invalid(
            "latin1_without_charset",
            '{"s":"é"}'.encode("latin-1"),
            CHARSET,
            "Latin-1 bytes served as UTF-8",
        ),
        _invalid("utf16_without_charset", utf16, CHARSET, "UTF-16 served as UTF-8"),
        _invalid(
            "utf16_no_bom_as_utf8",
            '{"s":"x"}'.encode("utf-16-le"),
            SYNTAX,
            "UTF-16 without BOM decodes to NUL-filled text",
        ),
        _invalid(
            "double_bom",
            b"\xef\xbb\xbf\xef\xbb\xbf{}",
            SYNTAX,
            "a second BOM is not whitespace",
        ),
        _invalid(
            "bom_after_whitespace",
            b" \xef\xbb\xbf{}",
            SYNTAX,
            "a BOM after the first byte",
        ),
        _invalid("nul_before_document", b'\x00{"a":1}', SYNTAX, "leading NUL"),
        _invalid("nul_after_document", b'{"a":1}\x00', SYNTAX, "trailing NUL"),
        _invalid("nul_between_tokens", b'{"a":\x001}', SYNTAX, "NUL between tokens"),
        _invalid(
            "unknown_charset",
            '{"s":"x"}',
            CHARSET,
            "charset nobody knows",
            content_type="application/json; charset=klingon",
        ),
        _valid(
            "utf8_bom",
            b'\xef\xbb\xbf{"s":"bom"}',
            {"s": "bom"},
            "a UTF-8 byte-order mark is skipped",
            text="bom",
        ),
        _valid(
            "utf16_with_charset",
            utf16,
            {"s": "é"},
            "UTF-16 with its charset",
            text="é",
            content_type="application/json; charset=utf-16",
        ),
        _valid(
            "latin1_with_charset",
            '{"s":"é"}'.encode("latin-1"),
            {"s": "é"},
            "Latin-1 with its charset",
            text="é",
            content_type="application/json; charset=ISO-8859-1",
        ),
        _valid(
            "quoted_charset",
            '{"s":"q"}',
            {"s": "q"},
            "a quoted charset value",
            text="q",
            content_type='application/json; charset="utf-8"',
        ),
    ]
    # Codecs that Python registers but that do not turn bytes into text. The body is
    # not JSON either, so falling back to UTF-8 is as acceptable as rejecting the
    # charset.
    for charset in (
        "rot13",
        "base64",
        "hex",
        "zlib",
        "bz2",
        "uu",
        "quopri",
        "undefined",
        "punycode",
    ):
        cases.append(
            _invalid(
                f"charset_{charset}",
                '{"s":"x"',
                [*CHARSET, *SYNTAX],
                f"non-text codec {charset} as charset",
                content_type=f"application/json; charset={charset}",
            )
        )
    return cases


def depth() -> list[HostileCase]:
    """Return nesting beyond the parser's and the guard's limits, and just within."""
    within = "[" * 63 + "]" * 63
    nested: Any = []
    for _ in range(62):
        nested = [nested]
    return [
        _invalid("open_brackets_100000", "[" * 100_000, SYNTAX, "100,000 unclosed '['"),
        _invalid(
            "balanced_brackets_10000",
            "[" * 10_000 + "]" * 10_000,
            SYNTAX,
            "10,000 nested arrays",
        ),
        _invalid(
            "nested_objects_5000",
            '{"a":' * 5_000 + "1" + "}" * 5_000,
            SYNTAX,
            "5,000 nested objects",
        ),
        _invalid(
            "depth_65", "[" * 65 + "]" * 65, SYNTAX, "one level over max_depth=64"
        ),
        _valid(
            "depth_63",
            '{"s":"deep","d":' + within + "}",
            {"s": "deep", "d": nested},
            "63 nested arrays in an object: 64 levels",
            text="deep",
        ),
    ]


def numbers() -> list[HostileCase]:
    """Return huge, tiny, long and malformed numbers."""
    digits400 = "9" * 400
    digits5000 = "1" * 5000
    cases = [
        _invalid("float_1e400", '{"n":1e400}', INFINITE, "overflows to infinity"),
        _invalid(
            "float_minus_1e400", '{"n":-1e400}', INFINITE, "overflows to minus infinity"
        ),
        _invalid("bare_infinity", '{"n":Infinity}', INFINITE, "non-JSON Infinity"),
        _invalid(
            "bare_minus_infinity", '{"n":-Infinity}', INFINITE, "non-JSON -Infinity"
        ),
        _invalid(
            "integer_5000_digits",
            '{"n":' + digits5000 + "}",
            SYNTAX,
            "over Python's 4300-digit limit",
        ),
        _valid("float_1e_minus_400", '{"n":1e-400}', {"n": 0.0}, "underflows to 0"),
        _valid(
            "integer_400_digits",
            '{"n":' + digits400 + "}",
            {"n": int(digits400)},
            "400-digit integer kept exact",
        ),
        _valid(
            "negative_400_digits",
            '{"n":-' + digits400 + "}",
            {"n": -int(digits400)},
            "negative 400-digit integer",
        ),
        _valid(
            "long_fraction",
            '{"n":0.1000000000000000055511151231257827}',
            {"n": 0.1},
            "more digits than a double holds",
        ),
        _valid("negative_zero", '{"n":-0}', {"n": 0}, "minus zero"),
        _valid(
            "exponent_forms",
            '{"n":[1E+2,1e-2,1.5E2]}',
            {"n": [100.0, 0.01, 150.0]},
            "exponent spellings",
        ),
        _valid(
            "bare_nan",
            '{"n":NaN,"s":"nan"}',
            {"n": None, "s": "nan"},
            "non-JSON NaN is read as null",
            text="nan",
        ),
    ]
    malformed = {
        "leading_zero": "01",
        "trailing_dot": "1.",
        "leading_dot": ".5",
        "leading_plus": "+1",
        "lone_minus": "-",
        "empty_exponent": "1e",
        "hex_number": "0x10",
        "lowercase_nan": "nan",
        "lowercase_infinity": "infinity",
        "comma_decimal": "1,5",
    }
    cases += [
        _invalid(f"number_{name}", '{"n":' + text + "}", SYNTAX, f"number {text}")
        for name, text in malformed.items()
    ]
    return cases


def unusual() -> list[HostileCase]:
    """Return valid bodies that a careless parser or mapper gets wrong."""
    long_text = "x" * 10_000
    return [
        _valid(
            "duplicate_keys",
            '{"s":"first","s":"second"}',
            {"s": "second"},
            "duplicate key: the last value wins",
            text="second",
        ),
        _valid("top_level_array", "[1,2,3]", [1, 2, 3], "an array document"),
        _valid("top_level_string", '"just text"', "just text", "a string document"),
        _valid("top_level_number", "42", 42, "a number document"),
        _valid("top_level_true", "true", True, "a boolean document"),
        _valid("top_level_null", "null", None, "a null document"),
        _valid("empty_object", "{}", {}, "no members"),
        _valid("empty_array", "[]", [], "no elements"),
        _valid(
            "empty_key", '{"":1,"s":"k"}', {"": 1, "s": "k"}, "an empty key", text="k"
        ),
        _valid(
            "whitespace_around",
            ' \t\r\n{"s":"ws"}\n\t ',
            {"s": "ws"},
            "all four whitespace characters",
            text="ws",
        ),
        _valid(
            "unicode_keys",
            '{"ключ":"значение","s":"日本"}',
            {"ключ": "значение", "s": "日本"},
            "non-ASCII keys",
            text="日本",
        ),
        _valid(
            "long_string",
            '{"s":"' + long_text + '"}',
            {"s": long_text},
            "a 10,000-character string",
            text=long_text,
        ),
        _valid(
            "number_as_string_field",
            '{"s":12}',
            {"s": 12},
            "a number in a string column",
            text="12",
        ),
        _valid(
            "plain_text_type",
            '{"s":"typed"}',
            {"s": "typed"},
            "valid JSON labelled text/plain",
            text="typed",
            content_type="text/plain",
        ),
        _valid(
            "problem_json_type",
            '{"s":"problem"}',
            {"s": "problem"},
            "a +json media type",
            text="problem",
            content_type="application/problem+json",
        ),
        HostileCase("empty_body", b"", "empty", note="no bytes at all"),
        HostileCase("whitespace_body", b" \r\n\t ", "empty", note="whitespace only"),
        _invalid(
            "html_labelled_html",
            "<html>oops</html>",
            SYNTAX,
            "an HTML page labelled text/html",
            content_type="text/html",
        ),
    ]


def build_cases() -> list[HostileCase]:
    """Return every case of the corpus, names unique."""
    cases = [
        *truncations(),
        *structure(),
        *strings(),
        *encodings(),
        *depth(),
        *numbers(),
        *unusual(),
    ]
    names = [case.name for case in cases]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"duplicate case names: {duplicates}")
    return cases


def _manifest(cases: list[HostileCase]) -> str:
    entries = [
        {
            "name": case.name,
            "file": f"{case.name}.body",
            "content_type": case.content_type,
            "expect": case.expect,
            "codes": case.codes,
            "document": case.document,
            "text": case.text,
            "note": case.note,
        }
        for case in cases
    ]
    # ASCII escapes keep lone surrogates, which UTF-8 cannot encode, in the file.
    return json.dumps(entries, indent=1, ensure_ascii=True) + "\n"


def _expected_files(cases: list[HostileCase]) -> dict[str, bytes]:
    files = {f"{case.name}.body": case.body for case in cases}
    files[MANIFEST] = _manifest(cases).encode("ascii")
    return files


def write_corpus(directory: Path = CORPUS_DIR) -> int:
    """Write the corpus into `directory`, remove stale files, and return the count."""
    files = _expected_files(build_cases())
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.iterdir():
        if stale.name not in files:
            stale.unlink()
    for name, content in files.items():
        (directory / name).write_bytes(content)
    return len(files) - 1


def differences(directory: Path = CORPUS_DIR) -> list[str]:
    """Return the names of files missing, stale or changed in `directory`."""
    files = _expected_files(build_cases())
    present = (
        {path.name for path in directory.iterdir()} if directory.is_dir() else set()
    )
    changed = [
        name
        for name, content in files.items()
        if name not in present or (directory / name).read_bytes() != content
    ]
    return sorted(changed + sorted(present - set(files)))


def main(argv: list[str] | None = None) -> int:
    """Write the corpus, or with --check list the files that differ (exit status 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare the files with the generator instead of writing",
    )
    args = parser.parse_args(argv)
    if args.check:
        changed = differences()
        for name in changed:
            print(f"differs: {name}")
        return 1 if changed else 0
    count = write_corpus()
    print(f"wrote {count} cases to {CORPUS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
