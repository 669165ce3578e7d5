"""The Simplified Chinese catalog covers every translatable string, and it loads.

When the first test fails: run `scripts/update_translations.sh`, translate the listed strings in
repairqc/translations/zh_Hans_CN/LC_MESSAGES/messages.po with the product glossary's terms, remove
any `#, fuzzy` line, then `make translations`.
No database needed: the strings are extracted from the source with Babel, as the script does.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import PYTHON_FORMAT, Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "update_translations.sh"
TRANSLATIONS = ROOT / "repairqc" / "translations"
LOCALE = "zh_Hans_CN"
PO = TRANSLATIONS / LOCALE / "LC_MESSAGES" / "messages.po"
PO_NAME = f"repairqc/translations/{LOCALE}/LC_MESSAGES/messages.po"


def _script_keywords() -> list[str]:
    """The extraction keywords of the update script, so the test and the script cannot drift."""
    keywords = re.findall(r"--keywords\s+(\S+)", SCRIPT.read_text(encoding="utf-8"))
    assert {"_", "gettext", "_l", "lazy_gettext"} <= {k.split(":")[0] for k in keywords}, (
        f"could not read the --keywords of scripts/update_translations.sh: {keywords}"
    )
    return keywords


def _extract(tmp_path: Path) -> Catalog:
    """Extract with babel.cfg as scripts/update_translations.sh does (but keeping locations)."""
    pot = tmp_path / "messages.pot"
    command = [
        sys.executable,
        "-m",
        "babel.messages.frontend",
        "--quiet",
        "extract",
        "--mapping-file",
        "babel.cfg",
        "--output-file",
        str(pot),
    ]
    for keyword in _script_keywords():
        command += ["--keywords", keyword]
    command.append(".")
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"pybabel extract failed:\n{result.stdout}\n{result.stderr}"
    with pot.open("rb") as f:
        return read_po(f)


def _read_catalog() -> Catalog:
    assert PO.is_file(), f"{PO_NAME} is missing: run scripts/update_translations.sh"
    with PO.open("rb") as f:
        return read_po(f, locale=LOCALE)


def _strings(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ("",)
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def _placeholders(text: str) -> Counter[str]:
    return Counter(match.group(0) for match in PYTHON_FORMAT.finditer(text))


def _placeholder_problem(source: Message, translated: Message, catalog: Catalog) -> str | None:
    """Same %-placeholders (and no stray %) in msgstr as in msgid; Babel's own checks too."""
    ids = _strings(source.id)
    for i, msgstr in enumerate(_strings(translated.string)):
        msgid = ids[min(i, len(ids) - 1)]
        expected, found = _placeholders(msgid), _placeholders(msgstr)
        if expected != found:
            return f"msgid has {sorted(expected.elements())}, msgstr has {sorted(found.elements())}"
        if msgid.count("%") != msgstr.count("%"):
            # Templates use Jinja's newstyle gettext, which %-formats every string: a stray "%"
            # breaks the page even where the msgid has no placeholder.
            return "msgstr has a '%' that is not a placeholder (write '%%' for a percent sign)"
    errors = translated.check(catalog)
    return "; ".join(str(error) for error in errors) or None


def _where(message: Message) -> str:
    return ", ".join(f"{path}:{line}" for path, line in message.locations[:3]) or "?"


def test_every_extracted_string_has_a_chinese_translation(tmp_path: Path) -> None:
    extracted = _extract(tmp_path)
    catalog = _read_catalog()
    assert len(extracted) > 0, "the extraction found no strings: check babel.cfg"

    missing, untranslated, fuzzy, bad_format = [], [], [], []
    for source in extracted:
        if not source.id:
            continue
        label = f"{_strings(source.id)[0]!r}  ({_where(source)})"
        translated = catalog.get(source.id, context=source.context)
        if translated is None:
            missing.append(label)
        elif not all(s.strip() for s in _strings(translated.string)):
            untranslated.append(label)
        elif translated.fuzzy:
            fuzzy.append(label)
        else:
            problem = _placeholder_problem(source, translated, catalog)
            if problem:
                bad_format.append(f"{label}: {problem}")

    report = []
    for title, items in (
        ("not in the catalog (run scripts/update_translations.sh, then translate)", missing),
        ("without a translation (empty msgstr)", untranslated),
        ("marked fuzzy (check the translation, then delete the '#, fuzzy' line)", fuzzy),
        ("whose placeholders differ between msgid and msgstr", bad_format),
    ):
        if items:
            report.append(f"{len(items)} string(s) {title}:\n  " + "\n  ".join(items))
    assert not report, f"{PO_NAME} is incomplete:\n" + "\n".join(report)


@pytest.mark.parametrize(
    ("msgid", "expected"),
    [("Sign in", "登录"), ("Store", "门店"), ("Repair order", "维修单"), ("Audit log", "审计日志")],
)
def test_the_compiled_catalog_loads(tmp_path: Path, msgid: str, expected: str) -> None:
    catalog = _read_catalog()
    mo = tmp_path / LOCALE / "LC_MESSAGES" / "messages.mo"
    mo.parent.mkdir(parents=True)
    with mo.open("wb") as f:
        write_mo(f, catalog)  # fuzzy entries are left out, as `pybabel compile` does by default

    translations = Translations.load(str(tmp_path), locales=[LOCALE], domain="messages")
    assert isinstance(translations, Translations), "the compiled catalog did not load"
    assert translations.gettext(msgid) == expected
    assert translations.gettext("Sign in to %(name)s") % {"name": "FixFast"} == "登录FixFast"
