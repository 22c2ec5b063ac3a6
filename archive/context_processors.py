from . import roles


def role_flags(request):
    user = request.user
    return {
        "user_is_researcher": roles.is_researcher(user),
        "user_is_reviewer": roles.is_reviewer(user),
    }
