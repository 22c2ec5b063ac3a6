import pytest

from tests import factories


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Hashing real passwords for every fixture user would dominate the suite's time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def plain_http_test_client(settings):
    """Tests run with production settings (DEBUG off), but the test client speaks plain HTTP."""
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def no_column_copy(settings):
    """Pages count in SQL unless a test asks for the column copy (tests/test_columnar.py): a copy read in a thread
    of its own would not see a test's rows, and would hold a connection open as the test database is dropped."""
    settings.ARCHIVE_COLUMNAR = "off"


@pytest.fixture
def researcher(db):
    return factories.user("rita", role="researcher")


@pytest.fixture
def other_researcher(db):
    return factories.user("ramon", role="researcher")


@pytest.fixture
def reviewer(db):
    return factories.user("vera", role="reviewer")


@pytest.fixture
def other_reviewer(db):
    return factories.user("victor", role="reviewer")


@pytest.fixture
def administrator(db):
    return factories.user("ada", role="administrator")


@pytest.fixture
def no_role_user(db):
    return factories.user("nobody")


@pytest.fixture
def anonymous_client(client):
    return client


@pytest.fixture
def researcher_client(client, researcher):
    client.force_login(researcher)
    return client


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client
