"""What a browser would submit for a form on a page, so tests post exactly what the screen shows."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[list[tuple[str, str]]] = []
        self._fields: list[tuple[str, str]] | None = None
        self._select: str | None = None
        self._select_value: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self._fields = []
        elif self._fields is None:
            return
        elif tag == "input" and attributes.get("name"):
            kind = attributes.get("type", "text")
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attributes:
                return
            self._fields.append(
                (attributes["name"], attributes.get("value", "on" if kind == "checkbox" else ""))
            )
        elif tag == "select" and attributes.get("name"):
            self._select, self._select_value, self._first_option = attributes["name"], None, None
        elif tag == "option" and self._select:
            value = attributes.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in attributes:
                self._select_value = value
        elif tag == "textarea" and attributes.get("name"):
            self._textarea, self._text = attributes["name"], []

    def handle_endtag(self, tag):
        if self._fields is None:
            return
        if tag == "select" and self._select:
            value = self._select_value if self._select_value is not None else self._first_option
            self._fields.append((self._select, value or ""))
            self._select = None
        elif tag == "textarea" and self._textarea:
            self._fields.append((self._textarea, "".join(self._text)))
            self._textarea = None
        elif tag == "form":
            self.forms.append(self._fields)
            self._fields = None

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)


def form_data(html: str, containing: str) -> dict[str, str]:
    """The fields of the first form that has a field named `containing` (last value wins)."""
    reader = _FormReader()
    reader.feed(html)
    for fields in reader.forms:
        if any(name == containing for name, _value in fields):
            return dict(fields)
    raise AssertionError(f"no form with a field {containing!r} on the page")
