from django.contrib.auth.models import AnonymousUser

from . import roles


def role_flags(request):
    # A request refused before AuthenticationMiddleware ran (a foreign Host header
    # answered 400 by CommonMiddleware) has no user; its error page still renders.
    user = getattr(request, "user", None) or AnonymousUser()
    return {
        "user_is_researcher": roles.is_researcher(user),
        "user_is_reviewer": roles.is_reviewer(user),
    }
