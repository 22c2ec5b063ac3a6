"""One field of the filter form, written out in Python (`{% filter_field form "name" %}`).

The same HTML as a template of the label, the widget, the help text and the errors, without a template include
and a label template per field: the form is on every finding page. tests/test_filters.py holds it equal to that
template.
"""
from django import template
from django.utils.safestring import mark_safe

from archive.markup import escaped

register = template.Library()


@register.simple_tag
def filter_field(form, name):
    """The field `name` of `form`, or nothing when the form has no such field (status, for the public)."""
    if name not in form.fields:
        return ""
    field = form[name]
    errors, help_text, auto_id = field.errors, field.help_text, field.auto_id
    if field.use_fieldset:
        described = f' aria-describedby="{escaped(auto_id)}_helptext"' if help_text else ""
        body = f"<fieldset{described}><legend>{escaped(field.label)}</legend>{field.as_widget()}</fieldset>"
    else:
        body = f"{label_tag(field)}{field.as_widget()}"
    help_html = f'<small class="help" id="{escaped(auto_id)}_helptext">{escaped(help_text)}</small>' if help_text else ""
    errors_html = (f'<ul class="errorlist" id="{escaped(auto_id)}_error">'
                   f'{"".join(f"<li>{escaped(error)}</li>" for error in errors)}</ul>') if errors else ""
    return mark_safe(f'<div class="filter-field{" has-error" if errors else ""}">{body}{help_html}{errors_html}</div>')


def label_tag(field):
    """BoundField.label_tag() without its template: the label with the form's suffix, for the widget's id."""
    contents = escaped(field.label)
    suffix = field.field.label_suffix if field.field.label_suffix is not None else field.form.label_suffix
    if suffix and contents and field.label[-1] not in ":?.!":
        contents = f"{contents}{escaped(suffix)}"
    widget = field.field.widget
    element_id = widget.attrs.get("id") or field.auto_id
    if not element_id:
        return contents
    for_id = widget.id_for_label(element_id)
    label_for = f' for="{escaped(for_id)}"' if for_id else ""
    return f"<label{label_for}>{contents}</label>"
