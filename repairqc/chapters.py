"""Admin menu groups: the handbook chapter each model and screen serves."""

from typing import Any

from flask_babel import lazy_gettext as _l

CHAPTERS = {
    "organisation": _l("Organisation"),
    "ch2": _l("Ch.2 Repair service"),
    "ch3": _l("Ch.3 Staff and training"),
    "ch4": _l("Ch.4 Equipment"),
    "ch5": _l("Ch.5 Quality standards"),
    "ch6": _l("Ch.6 Customer service"),
    "ch7": _l("Ch.7 Information and data"),
    "ch8": _l("Ch.8 Supervision and inspection"),
    "ch9": _l("Ch.9 Emergencies and complaints"),
}


def add_screens(admin, chapter: str, *screens: tuple[type, Any, str, str]) -> None:
    """Add purpose-built screens, each (view class, menu name, endpoint, URL), under a chapter."""
    for view, name, endpoint, url in screens:
        admin.add_view(view(name=name, endpoint=endpoint, url=url, category=CHAPTERS[chapter]))
