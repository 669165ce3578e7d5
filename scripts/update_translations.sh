#!/usr/bin/env bash
# Re-extract the translatable strings and merge them into the Simplified Chinese catalog.
#
#   scripts/update_translations.sh        (from anywhere; it works from the repository root)
#
# Idempotent: run it after adding or changing strings, translate what it reports as untranslated
# in repairqc/translations/zh_Hans_CN/LC_MESSAGES/messages.po, then `make translations`.
# tests/test_translations.py fails while any extracted string lacks a Chinese translation.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
if [[ ! -x "$PYBABEL" ]]; then
    echo "$PYBABEL not found: run 'make install-dev' first (or set PYBABEL)" >&2
    exit 1
fi

TRANSLATIONS=repairqc/translations
POT="$TRANSLATIONS/messages.pot"
LOCALES=(zh_Hans_CN)

# Keep these keywords in step with tests/test_translations.py. Babel's defaults already include
# _, gettext and ngettext; lazy_gettext and _l are Flask-Babel's lazy strings.
"$PYBABEL" --quiet extract \
    --mapping-file babel.cfg \
    --keywords _ --keywords gettext --keywords ngettext:1,2 \
    --keywords lazy_gettext --keywords _l --keywords lazy_ngettext:1,2 \
    --sort-output --no-location \
    --project RepairQC --copyright-holder "RepairQC contributors" \
    --output-file "$POT" \
    .

for locale in "${LOCALES[@]}"; do
    po="$TRANSLATIONS/$locale/LC_MESSAGES/messages.po"
    if [[ -f "$po" ]]; then
        # No fuzzy matching: a guessed translation of a similar string is worse than none, and
        # the test then names the new string as untranslated. Obsolete entries are dropped, and
        # the POT date is not copied into the .po, so that a re-run changes nothing.
        "$PYBABEL" --quiet update --domain messages --input-file "$POT" --output-dir "$TRANSLATIONS" \
            --locale "$locale" --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date
    else
        "$PYBABEL" --quiet init --domain messages --input-file "$POT" --output-dir "$TRANSLATIONS" \
            --locale "$locale"
    fi
done

# What still needs a translator (the catalog is complete when every line says 100%).
"$PYBABEL" compile --domain messages --directory "$TRANSLATIONS" --statistics 2>&1 \
    | grep -v '^compiling' || true
