"""A lossless line editor for the INI files of the AWS tools. Pure: no I/O.

botocore reads ``~/.aws/credentials`` and ``~/.aws/config`` with
``configparser.RawConfigParser()`` (strict, ``=`` and ``:`` delimiters, ``#``
and ``;`` full-line comments, indented continuation lines, lowercased keys).
This module finds the same sections and keys as that parser does, line by line,
so an edit can replace the lines of one section and keep every other byte::

    # team keys                      find_sections(text) -> [default: lines 1-2,
    [default]                                                 roletray: lines 4-5]
    aws_access_key_id = AKIA...
                                     replace_section(text, "roletray",
    [roletray]                           [("aws_access_key_id", "ASIA...")])
    aws_access_key_id = ASIA...      changes lines 4-5 and nothing else

Lines are split where Python's universal newlines split them (``\\n``,
``\\r\\n``, a lone ``\\r``), as botocore's ``open()`` does, and keep their own
endings. Every edit is checked by parsing the region around it again: an edit
that would change how any other line is read (an indented header turning into
a continuation line, say) raises ``IniEditError`` instead of happening.
"""

from __future__ import annotations

import configparser
import io
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# configparser's own patterns, so "is this a header/option" is decided as it decides.
_SECTCRE = configparser.RawConfigParser.SECTCRE
_OPTCRE = configparser.RawConfigParser.OPTCRE
_DEFAULT_SECTION = configparser.DEFAULTSECT  # "DEFAULT": its keys apply to every section
_ENDINGS = ("\r\n", "\n", "\r")


class IniSyntaxError(ValueError):
    """The text is not what configparser (strict, as botocore uses it) accepts."""

    def __init__(self, lineno: int, problem: str, section: str | None = None) -> None:
        self.lineno = lineno  # 1-based
        self.problem = problem
        self.section = section
        where = f" in section [{section}]" if section is not None else ""
        super().__init__(f"line {lineno}: {problem}{where}")


class IniEditError(ValueError):
    """The edit cannot be made without changing how some other line is read."""

    def __init__(self, lineno: int, problem: str) -> None:
        self.lineno = lineno
        self.problem = problem
        super().__init__(f"line {lineno}: {problem}")


@dataclass(slots=True)
class Key:
    name: str  # lowercased, as configparser's optionxform stores it
    start: int  # index of the "key = value" line
    end: int  # index after its last continuation line


class Section:
    """One section: ``lines[header:end]`` are its header, keys and their continuations.

    Blank and comment lines after the last key belong to whatever follows.

    The scan records only where each key starts (and, for the few keys with
    continuation lines, where it ends); the ``Key`` objects are made when
    ``keys`` is first read, so a file of 20,000 sections costs no 40,000
    objects for the one section an edit looks at.
    """

    __slots__ = ("_ends", "_keys", "_starts", "end", "header", "name")

    def __init__(self, name: str, header: int, end: int) -> None:
        self.name = name
        self.header = header
        self.end = end
        self._starts: dict[str, int] = {}  # key name -> index of its "key = value" line
        self._ends: dict[str, int] | None = None  # -> index after its last continuation line
        self._keys: dict[str, Key] | None = None

    @property
    def keys(self) -> dict[str, Key]:
        if self._keys is None:
            ends = self._ends or {}
            self._keys = {n: Key(n, i, ends.get(n, i + 1)) for n, i in self._starts.items()}
        return self._keys

    @property
    def lineno(self) -> int:
        return self.header + 1

    def __repr__(self) -> str:
        return f"Section({self.name!r}, header={self.header}, end={self.end}, keys={self.keys})"


@dataclass(slots=True)
class Layout:
    lines: list[str]
    sections: list[Section]
    by_name: dict[str, Section]

    def value(self, section: Section, key: str) -> str:
        """The value configparser would give (continuation lines joined by newlines)."""
        k = section.keys[key]
        return _value(self.lines, k.start, k.end)

    def items(self, section: Section) -> dict[str, str]:
        return {name: _value(self.lines, k.start, k.end) for name, k in section.keys.items()}


# The characters other than " \t\r\n" that are whitespace to str.strip() and re's \s, or
# that str.splitlines() splits at (tests/test_inifile.py derives this set again).
_UNUSUAL_SPACE = re.compile("[\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a"
                            "\u2028\u2029\u202f\u205f\u3000]")


def is_plain(text: str) -> bool:
    """Whether ``text`` holds no whitespace or line break but space, tab, CR and LF.

    In such text ``str.splitlines`` splits exactly where ``open()`` does, and
    indentation is spaces and tabs only: the common shapes of every line.
    """
    if text.isascii():  # much faster than the search below, in the common case
        return not any(c in text for c in "\x0b\x0c\x1c\x1d\x1e\x1f")
    return _UNUSUAL_SPACE.search(text) is None


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split exactly where ``open()``'s universal newlines split."""
    if is_plain(text):
        return text.splitlines(True)  # the same split (\n, \r\n, lone \r), and faster
    return list(io.StringIO(text, newline=""))


def _ending(line: str) -> str:
    for e in _ENDINGS:
        if line.endswith(e):
            return e
    return ""


def _is_blank(line: str) -> bool:
    return not line.strip()


def _value(lines: Sequence[str], start: int, end: int) -> str:
    # configparser: the first line's value, then each continuation line
    # stripped, a blank line as "", comment lines skipped; joined, rstripped.
    m = _OPTCRE.match(lines[start].strip())
    assert m is not None
    parts = [m.group("value").strip()]
    for line in lines[start + 1:end]:
        s = line.strip()
        if not s:
            parts.append("")
        elif s[0] not in "#;":
            parts.append(s)
    return "\n".join(parts).rstrip()


def _scan(lines: Sequence[str], start: int = 0, stop: int | None = None) -> list[Section]:
    """Mirror of ``RawConfigParser._read`` (strict, default settings), with line indices.

    Same decisions in the same order: a comment is a line whose stripped text
    starts with ``#`` or ``;``; a non-blank line indented deeper than the last
    key line continues that key's value; otherwise it is a header, or an option.

    One pass, and cheap for the common line shapes: a line whose first
    character is not whitespace has indentation 0, so it cannot continue a
    value, and needs no ``lstrip``; a comment or blank line is known by that
    character alone. Everything else takes the general path.
    """
    stop = len(lines) if stop is None else stop
    sections: list[Section] = []
    seen: set[str] = set()
    default_keys: dict[str, int] = {}  # [DEFAULT] may repeat, its keys may not
    cur: Section | None = None
    cur_keys: dict[str, int] = default_keys  # where duplicates are looked for
    key: str | None = None  # configparser's "optname": the value still open
    indent_level = 0
    bad: IniSyntaxError | None = None
    sect_match = _SECTCRE.match
    append = sections.append
    # i: the 1-based number of the line, and the 0-based index after it
    for i, line in enumerate(lines[start:stop] if start or stop != len(lines) else lines,
                             start + 1):
        c = line[:1]
        if c in "#;\n\r":  # ("" is in it too: an empty string, were one passed, is blank)
            continue  # a comment, or an empty line
        if "!" <= c <= "~" or (c > "~" and not c.isspace()):
            # Not indented. configparser reads line.strip(); but a header is matched
            # on that below, and a key's name ends at a delimiter, which no trailing
            # whitespace holds: the line itself serves.
            s = line
            indent_level = 0
        else:  # indented (or a control character, which the general path handles too)
            s = line.strip()
            if not s:
                continue
            c = s[0]
            if c == "#" or c == ";":
                continue
            indent = len(line) - len(line.lstrip())
            if key is not None and indent > indent_level:
                assert cur is not None  # a key implies a section
                if cur._ends is None:
                    cur._ends = {}
                cur._ends[key] = cur.end = i
                continue
            indent_level = indent
        if c == "[":
            m = sect_match(s.rstrip())
            if m:
                name = m.group("header")
                if name in seen:
                    raise IniSyntaxError(i, "duplicate section", name)
                cur = Section(name, i - 1, i)
                if name != _DEFAULT_SECTION:
                    seen.add(name)
                    cur_keys = cur._starts
                else:
                    cur_keys = default_keys
                append(cur)
                key = None
                continue
        if cur is None:
            raise IniSyntaxError(i, "text before the first [section] header")
        # _OPTCRE's "option" is the text before the first "=" or ":" (less the
        # whitespace before it, which rstrip() takes as \s did); it fails to
        # match only when there is neither. Two finds cost a tenth of the match.
        d = s.find("=")
        colon = s.find(":", 0, d) if d >= 0 else s.find(":")
        if colon >= 0:
            d = colon
        if d <= 0:
            # configparser collects these and raises at the end (unless a
            # duplicate raises first); keep going the same way.
            bad = bad or IniSyntaxError(i, "not a 'key = value' line", cur.name)
            if d < 0:
                continue
        key = s[:d].rstrip().lower()
        if key in cur_keys:
            raise IniSyntaxError(i, f"duplicate key '{key}'", cur.name)
        cur_keys[key] = i - 1
        if cur_keys is default_keys:
            cur._starts[key] = i - 1
        cur.end = i
        if not key:
            key = None  # configparser's optname is falsy: no continuation lines
    if bad is not None:
        raise bad
    return sections


def parse(text: str | list[str]) -> Layout:
    """Scan a whole document; raises ``IniSyntaxError`` where configparser would fail."""
    lines = split_lines(text) if isinstance(text, str) else text
    sections = _scan(lines)
    return Layout(lines, sections, {s.name: s for s in sections})


def find_sections(text: str) -> list[Section]:
    """The sections in file order, with 0-based line spans ``[header, end)``."""
    return parse(text).sections


def section_items(text: str, name: str) -> dict[str, str] | None:
    """The keys of section ``name`` as configparser reads them; None when absent."""
    layout = parse(text)
    sec = layout.by_name.get(name)
    return None if sec is None else layout.items(sec)


def section_at(text: str, lineno: int) -> str | None:
    """The section that line ``lineno`` (1-based) sits in, reading only the lines before it.

    For error messages: the lines before configparser's first complaint parse.
    """
    try:
        sections = _scan(split_lines(text), 0, lineno - 1)
    except IniSyntaxError:
        return None
    return sections[-1].name if sections else None


def newline_of(lines: Sequence[str]) -> str:
    """The file's own line ending: that of its first line, else ``\\n``."""
    for line in lines:
        e = _ending(line)
        if e:
            return e
    return "\n"


def _check_items(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in items:
        if (not k or k != k.strip() or any(c in k for c in "=:\r\n") or k[0] in "[#;"
                or k.lower() in out):
            raise ValueError(f"unusable key name {k!r}")
        if v != v.strip() or "\n" in v or "\r" in v:
            # The value itself could be a secret: never echo it.
            raise ValueError(f"the value of {k!r} has surrounding whitespace or a line break")
        out[k.lower()] = v
    return out


def _check_name(name: str) -> None:
    # "DEFAULT" is configparser's special section: its keys leak into every other one.
    if (not name or name == _DEFAULT_SECTION or "\n" in name or "\r" in name
            or _header_name(f"[{name}]") != name):
        raise ValueError(f"unusable section name {name!r}")


def _header_name(s: str) -> str | None:
    m = _SECTCRE.match(s)
    return m.group("header") if m else None


def _blank_before_headers(layout: Layout, but: str | None = None) -> bool:
    """Whether this file puts a blank line before its section headers (default: yes).

    ``but`` leaves one section out, so that a section appended (with this
    style) and removed again finds the same answer both times.
    """
    with_blank = without = 0
    others = [s for s in layout.sections if s.name != but]
    for sec in others[1:]:  # what precedes the first header is a preamble
        if _is_blank(layout.lines[sec.header - 1]):
            with_blank += 1
        else:
            without += 1
    return with_blank > 0 or without == 0


def _splice(lines: list[str], a: int, b: int, block: list[str], nl: str) -> list[str]:
    """``lines[a:b] = block``, keeping whether the file ends with a line break.

    ``block`` lines carry endings. A file without a final line break keeps
    lacking one; a line that becomes non-final gets ``nl``. The result is the
    list that ``split_lines`` gives for its joined text.
    """
    final_missing = bool(lines) and not _ending(lines[-1])
    head = lines[:a]
    if head and not _ending(head[-1]) and (block or b < len(lines)):
        head[-1] = head[-1] + nl
    new = head + block + lines[b:]
    if new and final_missing and b == len(lines):
        new[-1] = new[-1][: len(new[-1]) - len(_ending(new[-1]))]
        if not new[-1]:
            new.pop()
    elif new and not final_missing and not _ending(new[-1]):
        new[-1] = new[-1] + nl
    # A lone "\r" followed by an empty "\n" line reads as one "\r\n": say so in the
    # list too, so that the proof in _edit parses what the file will hold.
    for j in (a + len(block) - 1, a - 1):
        if 0 <= j < len(new) - 1 and new[j].endswith("\r") and new[j + 1] == "\n":
            new[j:j + 2] = [new[j] + "\n"]
    return new


def _is_reset(line: str) -> bool:
    # An unindented header is read as a header whatever came before it, and
    # leaves the parser in the same state: parsing can restart there.
    return line[:1] == "[" and _SECTCRE.match(line.strip()) is not None


def _window_items(lines: Sequence[str], lo: int, hi: int) -> list[tuple[str, dict[str, str]]]:
    sections = _scan(lines, lo, hi)
    return [(s.name, {n: _value(lines, k.start, k.end) for n, k in s.keys.items()})
            for s in sections]


def _edit(layout: Layout, a: int, b: int, block: list[str], name: str,
          expected: dict[str, str] | None) -> list[str]:
    """Replace ``lines[a:b]`` with ``block`` and prove that only section ``name`` changed.

    The proof parses the old and the new lines between the restart points
    around the edit: every other section there must read the same, and
    ``name`` must read as ``expected`` (absent when None). Outside that window
    the lines, and the parser's state where it enters them, are unchanged.
    """
    lines = layout.lines
    new = _splice(lines, a, b, block, newline_of(lines))
    # A comment or blank line cannot look like a header to _is_reset (it needs "[" in column 0).
    lo = next((i for i in range(a - 1, -1, -1) if _is_reset(lines[i])), 0)
    hi_old = next((i for i in range(b, len(lines)) if _is_reset(lines[i])), len(lines))
    hi_new = hi_old + len(new) - len(lines)
    try:
        before = _window_items(lines, lo, hi_old)
        after = _window_items(new, lo, hi_new)
    except IniSyntaxError as e:
        raise IniEditError(e.lineno, f"the edit would make the file unreadable ({e.problem})") \
            from None
    want = [(n, v) for n, v in before if n != name]
    got = [(n, v) for n, v in after if n != name]
    mine = [v for n, v in after if n == name]
    if got != want or mine != ([] if expected is None else [expected]):
        raise IniEditError(a + 1, f"editing section [{name}] would change how nearby lines "
                                  "are read (an indented header or key after it?)")
    return new


def render_items(items: Sequence[tuple[str, str]], nl: str, indent: str = "") -> list[str]:
    """``key = value`` lines, as this editor writes them."""
    return [f"{indent}{k} = {v}{nl}" if v else f"{indent}{k} ={nl}" for k, v in items]


def replace_section(text: str, name: str, items: Sequence[tuple[str, str]] | None,
                    *, layout: Layout | None = None) -> str:
    """Section ``name`` holds exactly ``items`` afterwards (or is gone, when None).

    An existing section keeps its header line as written and its place; its
    key lines (and comments between them) are replaced. A missing section is
    appended at the end, after a blank line when the file separates its
    sections that way. Removing a section also removes the blank lines that
    separated it, so adding and removing again gives back the same bytes.

    >>> replace_section("[a]\\r\\nk = 1\\r\\n", "b", [("x", "2")])
    '[a]\\r\\nk = 1\\r\\n\\r\\n[b]\\r\\nx = 2\\r\\n'
    """
    _check_name(name)
    layout = layout or parse(text)
    lines = layout.lines
    sec = layout.by_name.get(name)
    if items is None:
        if sec is None:
            return text
        return "".join(_remove(layout, sec))
    expected = _check_items(items)
    if sec is not None:
        header = lines[sec.header]
        nl = _ending(header) or newline_of(lines)
        block = [header if _ending(header) else header + nl, *render_items(items, nl)]
        return "".join(_edit(layout, sec.header, sec.end, block, name, expected))
    # The last line's own ending: after a lone "\r", a "\n" would fuse with it.
    nl = (_ending(lines[-1]) if lines else "") or newline_of(lines)
    block = []
    if lines and _blank_before_headers(layout):
        block.append(nl)  # even after a blank last line: removal takes exactly this one
    block.append(f"[{name}]{nl}")
    block += render_items(items, nl)
    return "".join(_edit(layout, len(lines), len(lines), block, name, expected))


def _remove(layout: Layout, sec: Section) -> list[str]:
    lines = layout.lines
    a, b = sec.header, sec.end
    while b < len(lines) and _is_blank(lines[b]):
        b += 1
    if b == len(lines) and a > 0 and _is_blank(lines[a - 1]) \
            and _blank_before_headers(layout, but=sec.name):
        a -= 1  # the one separator that appending it put before it
    return _edit(layout, a, b, [], sec.name, None)


def set_keys(text: str, name: str, updates: Mapping[str, str | None],
             *, layout: Layout | None = None) -> str:
    """Set (or, with None, delete) keys of section ``name``, creating it when missing.

    Other keys, comments and the order of the section stay. An existing key
    keeps its own spelling, indentation and delimiter; only its value changes::

        [profile roletray]              [profile roletray]
        output: json          ->        output: json
          Region = us-east-1              Region = eu-west-1
    """
    _check_name(name)
    layout = layout or parse(text)
    lines = layout.lines
    sec = layout.by_name.get(name)
    sets = _check_items((k, v) for k, v in updates.items() if v is not None)
    dels = {k.lower() for k, v in updates.items() if v is None}
    if sec is None:
        if not sets:
            return text
        return replace_section(text, name, [(k, v) for k, v in updates.items() if v is not None],
                               layout=layout)
    expected = {**layout.items(sec)}
    changes: list[tuple[int, int, list[str]]] = []  # (a, b, block), disjoint, in order
    for kname, k in sec.keys.items():
        if kname in dels:
            changes.append((k.start, k.end, []))
            expected.pop(kname)
        elif kname in sets and (expected[kname] != sets[kname]):
            line = lines[k.start]
            body = line[: len(line) - len(_ending(line))]
            lead = len(body) - len(body.lstrip())
            m = _OPTCRE.match(body, lead)
            assert m is not None
            end = _ending(line) or newline_of(lines)
            prefix = body[: m.start("value")]
            if not sets[kname]:
                prefix = prefix.rstrip(" \t")
            changes.append((k.start, k.end, [prefix + sets[kname] + end]))
            expected[kname] = sets[kname]
    missing = [(k, v) for k, v in updates.items() if v is not None and k.lower() not in sec.keys]
    if missing:
        last = max(sec.keys.values(), key=lambda k: k.start, default=None)
        ref = lines[last.start] if last else lines[sec.header]
        indent = ref[: len(ref) - len(ref.lstrip())]
        changes.append((sec.end, sec.end, render_items(missing, newline_of(lines), indent)))
        expected.update((k.lower(), v) for k, v in missing)
    if not changes:
        return text
    # One contiguous edit over the section keeps the proof simple.
    changes.sort(key=lambda c: (c[0], c[1]))
    a, b = changes[0][0], max(c[1] for c in changes)
    block: list[str] = []
    pos = a
    for ca, cb, cblock in changes:
        block += lines[pos:ca]
        block += cblock
        pos = cb
    block += lines[pos:b]
    nl = newline_of(lines)
    # Only the file's last line can lack an ending; inside the block it no longer is last.
    block = [ln if _ending(ln) else ln + nl for ln in block]
    return "".join(_edit(layout, a, b, block, name, expected))


# --- the AWS config file's profile sections ---------------------------------------------

def profile_section(layout: Layout, target: str) -> str:
    """The config-file section botocore reads as profile ``target`` (the last one wins)."""
    found = [s.name for s in layout.sections if config_profile_name(s.name) == target]
    if found:
        return found[-1]
    return "default" if target == "default" else f"profile {target}"


def config_profile_name(section: str) -> str | None:
    """The profile botocore reads from config section ``section`` (None: not a profile)."""
    # botocore's configloader.build_profile_map / _parse_section, exactly.
    if section.startswith("profile"):
        try:
            parts = shlex.split(section)
        except ValueError:
            return None
        return parts[1] if len(parts) == 2 else None
    return "default" if section == "default" else None
