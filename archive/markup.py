"""HTML built in Python where a page writes out thousands of small pieces (the balance's cells and bars, the
filter form's options). Django's `format_html` and `conditional_escape` check every argument for lazy
strings; these do the same escaping without that check, for arguments that are never lazy."""
import html

from django.utils.safestring import mark_safe


def escaped(value):
    """`conditional_escape()`: text escaped, HTML left as it is."""
    return value.__html__() if hasattr(value, "__html__") else html.escape(str(value))


def joined(pieces):
    """Pieces of HTML, each already escaped, as one safe string."""
    return mark_safe("".join(pieces))



def attributes(attrs):
    """`django.forms.utils.flatatt()`: ' name="value"' for each attribute (sorted), then the names of those
    that are True; False and None leave an attribute out."""
    pairs = sorted((name, value) for name, value in attrs.items() if not isinstance(value, bool) and value is not None)
    flags = [name for name, value in attrs.items() if value is True]
    return "".join(f' {escaped(name)}="{escaped(value)}"' for name, value in pairs) + "".join(
        f" {escaped(name)}" for name in flags)
