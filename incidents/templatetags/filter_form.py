"""One field of the filter form, written out in Python (`{% filter_field form "name" %}`).

The same HTML as a template of the label, the widget, the help text and the errors, without a template include
and a label template per field: the form is on every finding page. tests/test_filters.py holds it equal to that
template.
"""
from django import template
from django.utils.html import conditional_escape, format_html, format_html_join

register = template.Library()


@register.simple_tag
def filter_field(form, name):
    """The field `name` of `form`, or nothing when the form has no such field (status, for the public)."""
    if name not in form.fields:
        return ""
    field = form[name]
    errors, help_text, auto_id = field.errors, field.help_text, field.auto_id
    if field.use_fieldset:
        described = format_html(' aria-describedby="{}_helptext"', auto_id) if help_text else ""
        body = format_html("<fieldset{}><legend>{}</legend>{}</fieldset>", described, field.label, field.as_widget())
    else:
        body = format_html("{}{}", label_tag(field), field.as_widget())
    return format_html(
        '<div class="filter-field{}">{}{}{}</div>',
        " has-error" if errors else "",
        body,
        format_html('<small class="help" id="{}_helptext">{}</small>', auto_id, help_text) if help_text else "",
        format_html('<ul class="errorlist" id="{}_error">{}</ul>', auto_id,
                    format_html_join("", "<li>{}</li>", ((error,) for error in errors))) if errors else "",
    )


def label_tag(field):
    """BoundField.label_tag() without its template: the label with the form's suffix, for the widget's id."""
    contents = field.label
    suffix = field.field.label_suffix if field.field.label_suffix is not None else field.form.label_suffix
    if suffix and contents and contents[-1] not in ":?.!":
        contents = format_html("{}{}", contents, suffix)
    widget = field.field.widget
    element_id = widget.attrs.get("id") or field.auto_id
    if not element_id:
        return conditional_escape(contents)
    for_id = widget.id_for_label(element_id)
    return format_html("<label{}>{}</label>", format_html(' for="{}"', for_id) if for_id else "", contents)
