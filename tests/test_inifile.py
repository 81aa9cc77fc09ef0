"""The pure line editor: it reads files as configparser (botocore's parser) does, and
edits one section without changing any other byte."""

from __future__ import annotations

import configparser
import io

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tray.awsfiles import inifile
from tray.awsfiles.inifile import IniEditError, IniSyntaxError

ITEMS = [("aws_access_key_id", "ASIAEXAMPLE"), ("aws_secret_access_key", "s/e+c=r:e#t"),
         ("x_roletray_managed", "true")]


# --- the judge: configparser exactly as botocore drives it ---------------------------------


def judge(text: str) -> tuple[list[tuple[str, dict[str, str]]], dict[str, str]] | None:
    """Sections (own keys, in order) and DEFAULT keys as botocore's parser reads them."""
    cp = configparser.RawConfigParser()
    try:
        # botocore open()s the file in universal-newline mode: \r\n, \r and \n end lines.
        cp.read_file(io.StringIO(text, newline=None))
    except configparser.Error:
        return None
    # _sections holds each section's own keys, apart from DEFAULT's (which items() merges in).
    own = cp._sections  # type: ignore[attr-defined]
    return [(name, dict(own[name])) for name in cp.sections()], dict(cp.defaults())


def mine(text: str) -> tuple[list[tuple[str, dict[str, str]]], dict[str, str]] | None:
    try:
        layout = inifile.parse(text)
    except IniSyntaxError:
        return None
    defaults: dict[str, str] = {}
    sections = []
    for sec in layout.sections:
        if sec.name == "DEFAULT":
            defaults.update(layout.items(sec))
        else:
            sections.append((sec.name, layout.items(sec)))
    return sections, defaults


# --- strategies -------------------------------------------------------------------------------

NAMES = ["default", "roletray", "prod", "DEFAULT", " spaced ", "profile x", "a]b", "ünï"]
KEYS = ["k", "K", "aws_access_key_id", "region", "x y", "ñ"]
VALUES = ["", "1", "v w", "a=b", "a:b", "#not a comment", "[x]", "ünï", "a\u2028b", "a\x0bb"]
INDENTS = ["", "", "", " ", "  ", "\t", "\u00a0"]
DELIMS = [" = ", "=", ": ", ":", " =", "\t=\t"]
COMMENTS = ["# c", ";c", "#", "# [x]", "# ünï ☃", "; k = v"]
ENDINGS = ["\n", "\n", "\r\n", "\r"]

any_line = st.one_of(
    st.builds(lambda i, n, tail: f"{i}[{n}]{tail}", st.sampled_from(INDENTS),
              st.sampled_from(NAMES), st.sampled_from(["", "", " ; c", "x]"])),
    st.builds(lambda i, k, d, v: f"{i}{k}{d}{v}", st.sampled_from(INDENTS),
              st.sampled_from(KEYS), st.sampled_from(DELIMS), st.sampled_from(VALUES)),
    st.builds(lambda i, c: f"{i}{c}", st.sampled_from(INDENTS), st.sampled_from(COMMENTS)),
    st.sampled_from(["", " ", "\t", "\x0c"]),
    st.builds(lambda i, v: f"{i}{v}", st.sampled_from(INDENTS),
              st.sampled_from(["junk", "[unclosed", "=v", ": v", "x", "[]"])),
    # The scanner's fast paths: first characters, delimiters in either order, headers
    # with trailing text or whitespace, whitespace and controls that are not " \t".
    st.builds(lambda i, v: f"{i}{v}", st.sampled_from(INDENTS + ["\x0b", "\x1c", "\u3000"]),
              st.sampled_from(["k:v=w", "k=v:w", "k :=", "K = a : b", "[a] \t", "[a]x",
                               "[a] ]", "\x00k = v", "\x7f = 1", "\ufeffk = v", "k\x0b= v",
                               "ñ:1", "[\x00]", "=", ":", "\x00", "k\x85=v", "#[a]"])),
)


@st.composite
def line_soup(draw: st.DrawFn) -> str:
    """Anything line-shaped: valid or not, with every kind of line ending."""
    cut = draw(st.booleans())
    lines = draw(st.lists(st.tuples(any_line, st.sampled_from(ENDINGS)), max_size=20))
    text = "".join(a + b for a, b in lines)
    if lines and cut:  # no final line break
        text = text[: len(text) - len(lines[-1][1])]
    return text


@st.composite
def valid_docs(draw: st.DrawFn) -> str:
    """Valid INI text of the awkward kinds real credentials files have."""
    style = draw(st.sampled_from(["\n", "\r\n", "\r", "mixed"]))

    def nl() -> str:
        return draw(st.sampled_from(ENDINGS)) if style == "mixed" else style

    out: list[str] = []
    for _ in range(draw(st.integers(0, 2))):  # a preamble of comments and blank lines
        out.append(draw(st.sampled_from(COMMENTS + ["", "  "])) + nl())
    names = draw(st.lists(st.sampled_from(["default", "roletray", "prod", "dev", "ünï",
                                           " sp ", "profile x", "a]b"]), unique=True,
                          max_size=5))
    for n, name in enumerate(names):
        indent = draw(st.sampled_from(["", "", " "])) if n == 0 else ""
        out.append(f"{indent}[{name}]{draw(st.sampled_from(['', '', ' ; note']))}" + nl())
        keys = draw(st.lists(st.sampled_from(KEYS[1:]), unique_by=str.lower, max_size=4))
        key_indent = draw(st.sampled_from(["", "", "  "]))
        for key in keys:
            for _ in range(draw(st.integers(0, 1))):
                out.append(draw(st.sampled_from(COMMENTS + [""])) + nl())
            out.append(f"{key_indent}{key}{draw(st.sampled_from(DELIMS))}"
                       f"{draw(st.sampled_from(VALUES))}" + nl())
            for _ in range(draw(st.integers(0, 2))):  # continuation lines, maybe a blank inside
                if draw(st.booleans()):
                    out.append(nl())
                out.append(f"{key_indent}    more {draw(st.sampled_from(VALUES))}" + nl())
        for _ in range(draw(st.integers(0, 2))):
            out.append(draw(st.sampled_from(["", "", "# after", "\t"])) + nl())
    text = "".join(out)
    if text and draw(st.booleans()):  # no final line break
        text = text.rstrip("\r\n")
    assert judge(text) is not None, repr(text)
    return text


def expected_after(text: str, name: str, items: list[tuple[str, str]] | None):
    sections, defaults = judge(text)  # type: ignore[misc]
    want = {k.lower(): v for k, v in items} if items is not None else None
    out = []
    found = False
    for n, v in sections:
        if n == name:
            found = True
            if want is not None:
                out.append((n, want))
        else:
            out.append((n, v))
    if not found and want is not None:
        out.append((name, want))
    return out, defaults


def final_nl(text: str) -> str:
    """The text with a final line break, to compare files that differ only there."""
    return text if not text or text.endswith(("\n", "\r")) else text + "\n"


# --- the scanner is configparser ------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(line_soup())
@example("[a]\nk = 1\n  [b]\nx = 2\n")  # an indented header after a key continues its value
@example("[a]\n  [b]\nx = 2\n")  # ... but after a bare header it is a header
@example("[a]\nk = 1\n# c\n  more\n")  # a comment inside a multi-line value
@example("[a]\rk = 1\r[b]\r\nk=2")  # lone CR ends a line, as in botocore's open()
@example("[a]\nk = a\u2028b\n")  # ... but U+2028 does not
@example("[DEFAULT]\nk=1\n[DEFAULT]\nk=2\n")  # DEFAULT may repeat, its keys may not
@example("[a]\n=v\n")
@example("\ufeff[a]\n")
def test_scanner_reads_what_configparser_reads(text: str) -> None:
    assert mine(text) == judge(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("a =[]#\t\r\n\x0b\x0c\x1c\x85\u2028\xa0")))
def test_split_lines_is_stringio_whatever_the_text(text: str) -> None:
    # Plain text takes str.splitlines(), the rest io.StringIO: both must split as open() does.
    assert inifile.split_lines(text) == list(io.StringIO(text, newline=""))
    assert inifile.is_plain(text) == all(c in "a =[]#\t\r\n" for c in text)


def test_unusual_space_is_every_other_space_and_line_break() -> None:
    """``is_plain`` lists the characters that make splitlines(), strip() and \\s differ from
    the plain case: every whitespace or line-break character but space, tab, CR and LF."""
    derived = {chr(c) for c in range(0x110000)
               if chr(c).isspace() or len(f"a{chr(c)}b".splitlines()) > 1} - set(" \t\r\n")
    listed = {c for c in map(chr, range(0x110000))
              if inifile._UNUSUAL_SPACE.match(c)}  # type: ignore[attr-defined]
    assert listed == derived
    for c in derived:
        assert not inifile.is_plain(f"[a]\nk = 1{c}\n") and not inifile.is_plain(c * 3)
    assert inifile.is_plain("[a]\r\n\tk = \x00\x7f ü ☃\r")


def test_split_lines_splits_where_open_does() -> None:
    text = "a\r\nb\rc\nd\x0be\u2028f\x1cg\r\n\r\nh"
    assert inifile.split_lines(text) == ["a\r\n", "b\r", "c\n", "d\x0be\u2028f\x1cg\r\n",
                                         "\r\n", "h"]
    assert "".join(inifile.split_lines(text)) == text


@pytest.mark.parametrize("text, lineno, problem", [
    ("[a]\nk=1\n[a]\n", 3, "duplicate section"),
    ("[a]\nk=1\nK=2\n", 3, "duplicate key 'k'"),
    ("k=1\n[a]\n", 1, "text before the first [section] header"),
    ("[a]\nk=1\njunk\n", 3, "not a 'key = value' line"),
    ("\ufeff[a]\n", 1, "text before the first [section] header"),
])
def test_syntax_errors_name_the_line(text: str, lineno: int, problem: str) -> None:
    with pytest.raises(IniSyntaxError) as e:
        inifile.parse(text)
    assert (e.value.lineno, e.value.problem) == (lineno, problem)


def test_find_sections_gives_spans() -> None:
    text = "# top\n[a]\nk = 1\n  more\n\n# about b\n[b]\n"
    spans = [(s.name, s.header, s.end) for s in inifile.find_sections(text)]
    assert spans == [("a", 1, 4), ("b", 6, 7)]  # a's trailing blank and comment are not a's


# --- replace_section ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_docs(), st.sampled_from(["roletray", "prod", "new"]))
def test_replace_changes_only_the_target(text: str, name: str) -> None:
    layout = inifile.parse(text)
    sec = layout.by_name.get(name)
    try:
        out = inifile.replace_section(text, name, ITEMS)
    except IniEditError:
        # Only an indented header right after an emptied key-less section can force this.
        assert sec is not None and not sec.keys
        return
    assert judge(out) == expected_after(text, name, ITEMS)
    lines = layout.lines
    if sec is not None:
        prefix, suffix = "".join(lines[: sec.header]), "".join(lines[sec.end:])
        assert out.startswith(prefix)
        assert out.endswith(suffix)
        middle = out[len(prefix): len(out) - len(suffix)]
        assert middle.startswith(lines[sec.header].rstrip("\r\n"))
        # Nothing but the header and our keys in between.
        assert len(inifile.split_lines(middle)) == 1 + len(ITEMS)
    else:
        assert final_nl(out).startswith(final_nl(text)) or out.startswith(text)
        tail = out[len(text):]
        assert f"[{name}]" in tail and all(f"{k} = {v}" in tail for k, v in ITEMS)
    # The file keeps lacking (or having) a final line break.
    assert (out.endswith(("\n", "\r")) == text.endswith(("\n", "\r"))) or not text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_docs(), st.sampled_from(["roletray", "prod", "dev"]))
def test_remove_takes_the_section_and_its_blank_lines_only(text: str, name: str) -> None:
    layout = inifile.parse(text)
    sec = layout.by_name.get(name)
    try:
        out = inifile.replace_section(text, name, None)
    except IniEditError:
        assume(False)  # an indented line after it would change meaning; refusing is right
        return
    assert judge(out) == expected_after(text, name, None)
    if sec is None:
        assert out == text
        return
    assert out in set(removals(layout.lines, sec.header, sec.end))


def removals(old: list[str], h: int, e: int) -> list[str]:
    """Every text that is ``old`` without lines h..e and some blank lines around them."""
    a_min, b_max = h, e
    while a_min > 0 and not old[a_min - 1].strip():
        a_min -= 1
    while b_max < len(old) and not old[b_max].strip():
        b_max += 1
    out = []
    for a in range(a_min, h + 1):
        for b in range(e, b_max + 1):
            new = old[:a] + old[b:]
            if new and b == len(old) and not old[-1].endswith(("\n", "\r")):
                new[-1] = new[-1].rstrip("\r\n")  # it still lacks a final line break
            out.append("".join(new))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_docs())
@example("")
@example("[a]\nk = 1")
@example("# only a comment")
@example("[a]\r\nk = 1\r\n\r\n[b]\r\nj = 2\r\n")
@example("[a]\nk = 1\n\n")
@example("[a]\nk = 1\n[b]\nj = 2\n\n")
@example("\n")
def test_add_then_remove_gives_back_the_file(text: str) -> None:
    assume("new" not in inifile.parse(text).by_name)
    added = inifile.replace_section(text, "new", ITEMS)
    assert inifile.replace_section(added, "new", None) == text


AWKWARD = {
    "crlf": "[default]\r\naws_access_key_id = AKIA\r\n\r\n[roletray]\r\nold = 1\r\n",
    "no final newline": "[default]\nk = 1\n\n[roletray]\nold = 1",
    "colon syntax and tabs": "[default]\n\tk:\tv\n[roletray]\nold: 1\n[z]\nq=1\n",
    "non-ascii comment": "# clé ☃ — 設定\n[roletray]\nold = 1\n; fin ünï\n",
    "continuation": "[roletray]\nold = a\n  b\n\n  c\n# about z\n[z]\nq = 1\n",
}


@pytest.mark.parametrize("name", sorted(AWKWARD))
def test_awkward_files_keep_their_bytes(name: str) -> None:
    text = AWKWARD[name]
    out = inifile.replace_section(text, "roletray", [("k", "v")])
    sec = inifile.parse(text).by_name["roletray"]
    lines = inifile.split_lines(text)
    assert out.startswith("".join(lines[: sec.header + 1]))
    assert out.endswith("".join(lines[sec.end:]))
    assert judge(out) == expected_after(text, "roletray", [("k", "v")])


def test_crlf_file_gets_crlf_lines() -> None:
    out = inifile.replace_section("[a]\r\nk = 1\r\n", "new", [("x", "1"), ("y", "2")])
    assert out == "[a]\r\nk = 1\r\n\r\n[new]\r\nx = 1\r\ny = 2\r\n"


def test_new_section_follows_the_file_style() -> None:
    tight = "[a]\nk = 1\n[b]\nj = 2\n"
    assert inifile.replace_section(tight, "c", [("x", "1")]) == tight + "[c]\nx = 1\n"
    loose = "[a]\nk = 1\n\n[b]\nj = 2\n"
    assert inifile.replace_section(loose, "c", [("x", "1")]) == loose + "\n[c]\nx = 1\n"
    assert inifile.replace_section("", "c", [("x", "1")]) == "[c]\nx = 1\n"
    assert inifile.replace_section("[a]\nk = 1", "c", [("x", "1")]) == "[a]\nk = 1\n\n[c]\nx = 1"


def test_header_spelling_kept_and_spaces_mean_another_section() -> None:
    text = "[roletray] ; mine\nold = 1\n[ roletray ]\nk = 2\n"
    out = inifile.replace_section(text, "roletray", [("x", "1")])
    assert out == "[roletray] ; mine\nx = 1\n[ roletray ]\nk = 2\n"


def test_taking_over_an_empty_section_before_an_indented_header_is_refused() -> None:
    text = "[roletray]\n  [b]\nk = 1\n"
    with pytest.raises(IniEditError):
        inifile.replace_section(text, "roletray", [("x", "1")])


def test_removal_that_would_glue_an_indented_header_to_a_value_is_refused() -> None:
    text = "[a]\nk = 1\n[roletray]\n  [b]\nj = 1\n"
    with pytest.raises(IniEditError):
        inifile.replace_section(text, "roletray", None)


@pytest.mark.parametrize("name", ["", "DEFAULT", "a\nb"])
def test_unusable_section_names(name: str) -> None:
    with pytest.raises(ValueError):
        inifile.replace_section("", name, [("k", "v")])


@pytest.mark.parametrize("items", [[("k", " v")], [("k", "a\nb")], [("k=", "v")],
                                   [("k", "1"), ("K", "2")], [("#k", "v")]])
def test_unusable_items(items: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError) as e:
        inifile.replace_section("", "s", items)
    assert "a\nb" not in str(e.value)


# --- set_keys ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_docs(), st.sampled_from(["roletray", "profile x", "new"]))
def test_set_keys_changes_one_value(text: str, name: str) -> None:
    try:
        out = inifile.set_keys(text, name, {"region": "eu-west-1"})
    except IniEditError:
        assume(False)
        return
    before, defaults = judge(text)  # type: ignore[misc]
    want = []
    for n, v in before:
        want.append((n, {**v, "region": "eu-west-1"} if n == name else v))
    if name not in dict(before):
        want.append((name, {"region": "eu-west-1"}))
    assert judge(out) == (want, defaults)
    assert inifile.set_keys(out, name, {"region": "eu-west-1"}) == out


def test_set_keys_keeps_spelling_indentation_and_other_keys() -> None:
    text = "[profile rt]\n  Output: json\n  Region = us-east-1\n[x]\n"
    out = inifile.set_keys(text, "profile rt", {"region": "eu-west-1"})
    assert out == "[profile rt]\n  Output: json\n  Region = eu-west-1\n[x]\n"
    out = inifile.set_keys("[profile rt]\r\n  output: json", "profile rt", {"region": "x"})
    assert out == "[profile rt]\r\n  output: json\r\n  region = x"
    assert inifile.set_keys("[a]\nk = 1\nj = 2\n", "a", {"k": None}) == "[a]\nj = 2\n"
