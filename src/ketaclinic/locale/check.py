"""Is every translatable string translated? The catalogue check the test suite runs, and that a
translator runs after editing a ``.po`` file::

    python -m ketaclinic.locale.check            # from the repository root

It extracts every marked string from the source tree with Babel's extractors (Python: ``_``,
``N_``, ``gettext``, ``ngettext``…; templates: ``_()`` and ``ngettext`` through Jinja2's
extractor), as ``pybabel extract -F src/ketaclinic/locale/babel.cfg`` does, and compares the
result with each language's catalogue. A problem is a string with no translation, an empty or
fuzzy one, a translation whose ``%(name)s`` placeholders differ from the English, or a
catalogue entry that nothing uses any more. The exit status is 1 when there is any.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from ketaclinic.locale import LANGUAGES, SOURCE_LANGUAGE, read_catalogue

MAPPING = Path("src") / "ketaclinic" / "locale" / "babel.cfg"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]")


def extract(root: Path) -> Catalog:
    """Every translatable string under ``root`` (the repository), as a template catalogue."""
    with (root / MAPPING).open(encoding="utf-8") as handle:
        # Babel's own reader of the mapping file pybabel uses (it has no type hints).
        method_map, options_map = parse_mapping_cfg(  # type: ignore[no-untyped-call]
            handle, filename=str(root / MAPPING)
        )
    template = Catalog(fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root), method_map, options_map
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _ids(message: Message) -> tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, list | tuple) else (message.id,)


def _strings(message: Message) -> tuple[str, ...]:
    if isinstance(message.string, list | tuple):
        return tuple(message.string)
    return (message.string or "",)


def _placeholders(texts: Iterable[str]) -> set[str]:
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


def problems(template: Catalog, translated: Catalog) -> list[str]:
    """Everything wrong with ``translated`` against the strings in use (``template``), one
    sentence each, naming the message."""
    found: list[str] = []
    language = str(translated.locale) if translated.locale else "?"
    used = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    for message in template:
        if not message.id:
            continue
        key = _ids(message)[0]
        entry = translated.get(message.id, context=message.context)
        shown = key[:60]
        if entry is None:
            found.append(f"{language}: no translation for {shown!r}")
            continue
        strings = _strings(entry)
        if not strings or not all(s.strip() for s in strings):
            found.append(f"{language}: empty translation for {shown!r}")
        elif entry.fuzzy:
            found.append(f"{language}: fuzzy (unchecked) translation for {shown!r}")
        elif _placeholders(strings) != _placeholders(_ids(message)):
            english, theirs = sorted(_placeholders(_ids(message))), sorted(_placeholders(strings))
            found.append(
                f"{language}: placeholders of {shown!r} differ: English {english}, "
                f"translation {theirs}"
            )
    for entry in translated:
        if entry.id and _ids(entry)[0] not in used:
            found.append(f"{language}: {_ids(entry)[0][:60]!r} is translated but no longer used")
    return found


def check(root: Path, languages: Sequence[str] = LANGUAGES) -> list[str]:
    """The problems of every translated language's catalogue (English is the source)."""
    template = extract(root)
    found: list[str] = []
    for language in languages:
        if language != SOURCE_LANGUAGE:
            found.extend(problems(template, read_catalogue(language)))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root = Path(args[0]) if args else Path.cwd()
    found = check(root)
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print(f"catalogues complete: {', '.join(LANGUAGES)}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
