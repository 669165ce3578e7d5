"""Admin menu groups: the handbook chapter each model serves."""

from flask_babel import lazy_gettext as _l

CHAPTERS = {
    "organisation": _l("Organisation"),
    "ch2": _l("Ch.2 Repair service"),
    "ch3": _l("Ch.3 Staff and training"),
    "ch5": _l("Ch.5 Quality standards"),
    "ch7": _l("Ch.7 Information and data"),
    "ch8": _l("Ch.8 Supervision and inspection"),
}
