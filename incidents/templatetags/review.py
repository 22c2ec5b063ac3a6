from django import template

register = template.Library()


@register.inclusion_tag("incidents/_review_panel.html", takes_context=True)
def review_panel(context, incident):
    return {"incident": incident, "user": context["user"], "request": context.get("request")}
