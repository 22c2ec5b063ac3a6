"""The filter form's widgets rendered in Python: the same HTML as Django's widget templates, built without them.

The filter form is on every finding page (the list, the balance, the map, the timeline) and has a few hundred
options. Rendered by Django's templates (one include per option, one template per label and input) it took
10.5 ms of the list page at 10^5 incidents. The HTML is Django's own, without its whitespace between tags;
tests/test_filters.py holds each widget equal to the Django widget it stands for.
"""
from django import forms
from django.utils.safestring import mark_safe

from archive.markup import attributes, escaped


def input_html(widget):
    """Django's `input.html` for a widget context (or an option's)."""
    value = widget["value"]
    shown = f' value="{escaped(value)}"' if value is not None else ""
    return mark_safe(f'<input type="{escaped(widget["type"])}" name="{escaped(widget["name"])}"{shown}'
                     f'{attributes(widget["attrs"])}>')


class InputInPython:
    def render(self, name, value, attrs=None, renderer=None):
        return input_html(self.get_context(name, value, attrs)["widget"])


class FastTextInput(InputInPython, forms.TextInput):
    pass


class FastNumberInput(InputInPython, forms.NumberInput):
    pass


class OptionsInPython:
    """A select's options written out directly, without Django's per-option dictionaries (`optgroups`)."""

    def render(self, name, value, attrs=None, renderer=None):
        selected = set(self.format_value(value))
        attrs = self.build_attrs(self.attrs, attrs)
        if self.allow_multiple_selected:
            attrs["multiple"] = True
        parts = []
        for option_value, label in self.choices:
            if isinstance(label, (list, tuple)):
                inner = "".join(self._option(sub_value, sub_label, selected) for sub_value, sub_label in label)
                parts.append(f'<optgroup label="{escaped(option_value)}">{inner}</optgroup>')
            else:
                parts.append(self._option(option_value, label, selected))
        return mark_safe(f'<select name="{escaped(name)}"{attributes(attrs)}>{"".join(parts)}</select>')

    def _option(self, value, label, selected):
        value = "" if value is None else str(value)
        chosen = value in selected
        if chosen and not self.allow_multiple_selected:
            selected.clear()  # a single select marks the first match only, as Django's does
        return f'<option value="{escaped(value)}"{" selected" if chosen else ""}>{escaped(label)}</option>'


class FastSelect(OptionsInPython, forms.Select):
    pass


class FastSelectMultiple(OptionsInPython, forms.SelectMultiple):
    pass


class FastCheckboxSelectMultiple(forms.CheckboxSelectMultiple):
    """Django's `multiple_input.html` and `input_option.html`: a <div> of <div>s, each a labelled checkbox."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        parts = []
        for group, options, _index in widget["optgroups"]:
            inner = "".join(f"<div>{self._option(option)}</div>" for option in options)
            parts.append(f"<div><label>{escaped(group)}</label>{inner}</div>" if group else inner)
        element_id, css_class = widget["attrs"].get("id"), widget["attrs"].get("class")
        shown_id = f' id="{escaped(element_id)}"' if element_id else ""
        shown_class = f' class="{escaped(css_class)}"' if css_class else ""
        return mark_safe(f'<div{shown_id}{shown_class}>{"".join(parts)}</div>')

    @staticmethod
    def _option(option):
        if not option["wrap_label"]:
            return input_html(option)
        option_id = option["attrs"].get("id")
        label_for = f' for="{escaped(option_id)}"' if option_id else ""
        return f"<label{label_for}>{input_html(option)} {escaped(option['label'])}</label>"
