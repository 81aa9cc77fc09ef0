"""The message catalogs: extract the messages from the code, merge them into each
``.po``, and compile each ``.po`` into its ``.mo``, with the standard library only
(xgettext and msgfmt are not on every machine, and pip's Pythons ship no pygettext).

    python tools/i18n.py update    # new messages into every .po (empty), gone ones out
    python tools/i18n.py compile   # every .po into its .mo (both are committed)
    python tools/i18n.py check     # exit 1 if a .po or .mo is behind the code

A message is the string literal given to ``_()``, ``N_()`` or ``ngettext()`` (also as
``i18n._`` and so on), or the ``fmt`` template of an error class (``tray.domain.errors``:
translated whole, then filled in). The ``.po`` is the source of truth a translator edits;
``tests/test_i18n.py`` checks the committed ``.mo`` is compiled from it.
"""

from __future__ import annotations

import ast
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tray"
LOCALEDIR = PACKAGE / "locale"
DOMAIN = "roletray"
SINGULAR = {"_", "N_"}
PLURAL = {"ngettext"}


@dataclass
class Message:
    msgid: str
    plural: str | None = None
    where: list[str] = field(default_factory=list)
    translations: list[str] = field(default_factory=list)  # msgstr, or msgstr[0..n]


# --- extraction -------------------------------------------------------------------------

def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _text(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) \
        else None


def extract_source(source: str, where: str) -> list[Message]:
    """The messages of one module, in the order they appear."""
    found: list[Message] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            args = node.args
            if name in SINGULAR and len(args) == 1 and _text(args[0]) is not None:
                found.append(Message(_text(args[0]) or "", where=[f"{where}:{node.lineno}"]))
            elif name in PLURAL and len(args) == 3 and _text(args[0]) is not None \
                    and _text(args[1]) is not None:
                found.append(Message(_text(args[0]) or "", _text(args[1]),
                                     where=[f"{where}:{node.lineno}"]))
        elif isinstance(node, ast.ClassDef):
            # An error class's template: ``fmt = "..."`` in its body.
            for stmt in node.body:
                if isinstance(stmt, ast.Assign | ast.AnnAssign):
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                    value = stmt.value
                    if any(isinstance(t, ast.Name) and t.id == "fmt" for t in targets) \
                            and value is not None and _text(value) is not None \
                            and _text(value) != "{message}":
                        found.append(Message(_text(value) or "",
                                             where=[f"{where}:{stmt.lineno}"]))
    found.sort(key=lambda m: int(m.where[0].rsplit(":", 1)[1]))
    return found


def extract(package: Path = PACKAGE) -> list[Message]:
    """Every message of the package, each once, in file then line order."""
    by_id: dict[tuple[str, str | None], Message] = {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent).as_posix()
        for m in extract_source(path.read_text(encoding="utf-8"), rel):
            # The file only: line numbers would change the .po with every edit.
            m.where = [rel]
            seen = by_id.get((m.msgid, m.plural))
            if seen is None:
                by_id[(m.msgid, m.plural)] = m
            elif rel not in seen.where:
                seen.where.append(rel)
    return list(by_id.values())


# --- .po files --------------------------------------------------------------------------

def _unquote(line: str) -> str:
    value = ast.literal_eval(line)
    if not isinstance(value, str):
        raise TypeError(f"not a string: {line!r}")
    return value


def read_po(text: str) -> tuple[str, list[Message]]:
    """(the header's msgstr, the messages) of a ``.po`` file."""
    messages: list[Message] = []
    header = ""
    current: Message | None = None
    key = ""

    def done() -> None:
        nonlocal header, current
        if current is None:
            return
        if current.msgid == "" and current.plural is None:
            header = current.translations[0] if current.translations else ""
        else:
            messages.append(current)
        current = None

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            if not line:
                done()
            continue
        word, _space, rest = line.partition(" ")
        if line.startswith('"'):
            value = _unquote(line)
        else:
            value = _unquote(rest)
        if word == "msgid":
            done()
            current = Message("")
            key = "msgid"
            current.msgid = value
        elif current is None:
            raise ValueError(f"line {number}: {word} before msgid")
        elif word == "msgid_plural":
            key = "plural"
            current.plural = value
        elif word == "msgstr" or word.startswith("msgstr["):
            key = "msgstr"
            current.translations.append(value)
        elif line.startswith('"'):
            if key == "msgid":
                current.msgid += value
            elif key == "plural":
                current.plural = (current.plural or "") + value
            else:
                current.translations[-1] += value
        else:
            raise ValueError(f"line {number}: {line!r}")
    done()
    return header, messages


def _quote(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
        .replace("\t", "\\t")
    return f'"{out}"'


def _field(name: str, text: str) -> list[str]:
    if "\n" not in text[:-1]:
        return [f"{name} {_quote(text)}"]
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    return [f'{name} ""', *(_quote(p) for p in lines)]


def write_po(header: str, messages: list[Message]) -> str:
    out = ['msgid ""', *_field("msgstr", header), ""]
    for m in messages:
        out += [f"#: {w}" for w in m.where]
        if "{" in m.msgid:
            out.append("#, python-brace-format")
        out += _field("msgid", m.msgid)
        if m.plural is None:
            out += _field("msgstr", m.translations[0] if m.translations else "")
        else:
            out += _field("msgid_plural", m.plural)
            for i, t in enumerate(m.translations or [""]):
                out += _field(f"msgstr[{i}]", t)
        out.append("")
    return "\n".join(out)


def merge(extracted: list[Message], existing: list[Message]) -> list[Message]:
    """The extracted messages, each with the translation the ``.po`` had for it."""
    had = {(m.msgid, m.plural): m.translations for m in existing}
    return [Message(m.msgid, m.plural, list(m.where), list(had.get((m.msgid, m.plural), [])))
            for m in extracted]


# --- .mo files --------------------------------------------------------------------------

def compile_mo(header: str, messages: list[Message]) -> bytes:
    """The GNU ``.mo`` for a ``.po``, as ``msgfmt`` writes it (no hash table); messages
    without a translation are left out, so they show in English."""
    entries: dict[bytes, bytes] = {b"": header.encode()}
    for m in messages:
        if not m.translations or not all(m.translations):
            continue
        key = m.msgid if m.plural is None else f"{m.msgid}\0{m.plural}"
        entries[key.encode()] = "\0".join(m.translations).encode()
    keys = sorted(entries)
    ids = strs = b""
    offsets: list[tuple[int, int, int, int]] = []
    for k in keys:
        offsets.append((len(ids), len(k), len(strs), len(entries[k])))
        ids += k + b"\0"
        strs += entries[k] + b"\0"
    start = 7 * 4
    table = start + len(keys) * 8 * 2
    koffsets: list[int] = []
    voffsets: list[int] = []
    for o1, l1, o2, l2 in offsets:
        koffsets += [l1, o1 + table]
        voffsets += [l2, o2 + table + len(ids)]
    return struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), start,
                       start + len(keys) * 8, 0, 0) \
        + struct.pack(f"{len(koffsets)}i", *koffsets) \
        + struct.pack(f"{len(voffsets)}i", *voffsets) + ids + strs


def catalogs(localedir: Path = LOCALEDIR) -> list[Path]:
    return sorted(localedir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    behind = []
    extracted = extract()
    for po in catalogs():
        text = po.read_text(encoding="utf-8")
        header, messages = read_po(text)
        merged = write_po(header, merge(extracted, messages)) + "\n"
        if command == "update":
            po.write_text(merged, encoding="utf-8")
        elif command == "check":
            wanted = {(m.msgid, m.plural) for m in extracted}
            has = {(m.msgid, m.plural) for m in messages}
            behind += [f"{po.relative_to(ROOT)}: no entry for {m!r} (update)"
                       for m, _p in sorted(wanted - has, key=str)]
            behind += [f"{po.relative_to(ROOT)}: {m!r} is not in the code any more (update)"
                       for m, _p in sorted(has - wanted, key=str)]
        header, messages = read_po(po.read_text(encoding="utf-8"))
        mo = compile_mo(header, messages)
        if command == "compile":
            po.with_suffix(".mo").write_bytes(mo)
        elif command == "check":
            missing = [m.msgid for m in messages if not m.translations or not all(m.translations)]
            behind += [f"{po.relative_to(ROOT)}: no translation for {m!r}" for m in missing]
            mo_path = po.with_suffix(".mo")
            if not mo_path.exists() or mo_path.read_bytes() != mo:
                behind.append(f"{mo_path.relative_to(ROOT)}: not compiled from the .po "
                              "(compile)")
    for line in behind:
        print(line, file=sys.stderr)
    return 1 if behind else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
