"""Every form field labelled, no positive tabindex, and the pages usable by keyboard alone, in a real browser.

A field counts as labelled when a <label> with text is associated with it
(`for=` or wrapping), or it has a non-empty aria-label, or an aria-labelledby
naming elements with text. The keyboard tests act with page.keyboard only;
they read the page's state (which element has focus) to know where they are.
"""
import re

import pytest

from incidents import services
from incidents.models import Incident, Status
from tests import factories

try:
    from playwright.sync_api import expect
except ImportError:  # the conftest skips these tests, with the reason
    expect = None

pytestmark = pytest.mark.e2e

UNLABELLED_FIELDS = """() => {
  const named = (ids) => (ids || "").split(/\\s+/).filter(Boolean)
    .some((id) => { const el = document.getElementById(id); return el && el.textContent.trim(); });
  const problems = [];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (["hidden", "submit", "button", "reset", "image"].includes(type)) continue;
    const labelled = [...el.labels].some((label) => label.textContent.trim())
      || (el.getAttribute("aria-label") || "").trim()
      || named(el.getAttribute("aria-labelledby"));
    if (!labelled) problems.push(`<${el.tagName.toLowerCase()} name="${el.name}" id="${el.id}">`);
  }
  for (const el of document.querySelectorAll("button, input[type=submit], input[type=button]")) {
    const name = (el.textContent || el.value || el.getAttribute("aria-label") || "").trim();
    if (!name && !named(el.getAttribute("aria-labelledby"))) {
      problems.push(`<${el.tagName.toLowerCase()}> without a name`);
    }
  }
  return problems;
}"""

POSITIVE_TABINDEX = """() => [...document.querySelectorAll("[tabindex]")]
  .filter((el) => el.tabIndex > 0)
  .map((el) => `<${el.tagName.toLowerCase()} tabindex="${el.getAttribute("tabindex")}">`)"""

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {where: "body"};
  return {
    tag: el.tagName.toLowerCase(),
    name: el.getAttribute("name") || "",
    text: (el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 80),
    where: el.closest("main") ? "main"
      : el.closest("nav[aria-label=Main]") ? "nav"
      : el.closest("header") ? "header" : "other",
    skip: el.classList.contains("skip-link"),
  };
}"""


@pytest.fixture
def archive(committed):
    researcher = factories.user("rita", role="researcher")
    author = factories.user("ramon", role="researcher")
    factories.user("vera", role="reviewer")
    party, weapon = factories.party("Party A forces", "Side A"), factories.weapon("Test cluster rocket")
    place = factories.place("Riverside")
    source = factories.source(org="Riverside Monitor", title="Riverside report")
    draft = factories.incident(author=researcher, reference_code="A11Y-DRAFT", place=place)
    in_review = factories.incident(author=author, reference_code="A11Y-REVIEW", title="Awaiting review")
    services.submit(actor=author, incident=in_review)
    published = factories.published_incident(
        reference_code="A11Y-PUB", title="Published strike",
        allegations=[factories.allegation("Party A forces", "Side A", weapons=["Test cluster rocket"])],
    )
    return {
        "url": committed.url, "party": party, "weapon": weapon, "place": place, "source": source,
        "draft": draft, "in_review": in_review, "published": published,
    }


def check_page(page, url, problems, expected_forms=1, opened=False):
    """Open a page (unless it is open) and note its unlabelled fields and positive tabindex values."""
    if not opened:
        response = page.goto(url)
        assert response.status == 200, f"{url} answered {response.status}"
    assert page.locator("main form").count() >= expected_forms, f"{url}: expected {expected_forms} form(s) in <main>"
    found = page.evaluate(UNLABELLED_FIELDS) + page.evaluate(POSITIVE_TABINDEX)
    if found:
        problems[url.split("//", 1)[-1].split("/", 1)[-1] or "/"] = found


def filter_pages(page, base):
    """The pages that show the incident filter form: the list (once it has it) and the finding pages."""
    urls = []
    page.goto(f"{base}/")
    if page.locator("form.filter-form").count():
        urls.append(f"{base}/")
    for name in ("balance", "map", "timeline"):
        if page.request.get(f"{base}/{name}/").status == 200:
            urls.append(f"{base}/{name}/")
    return urls


def test_every_form_field_on_every_form_page_has_a_label_and_no_tabindex_is_positive(
    archive, new_page, step, sign_in
):
    base, problems = archive["url"], {}

    visitor = new_page()
    with step(visitor, "anonymous-pages"):
        check_page(visitor, f"{base}/accounts/login/", problems)
        for url in filter_pages(visitor, base):
            check_page(visitor, url, problems)
            # With values chosen, the form shows one more box for each repeatable filter: labelled too.
            check_page(visitor, f"{url}?party={archive['party'].slug}&weapon={archive['weapon'].slug}", problems)

    researcher = new_page()
    with step(researcher, "researcher-pages"):
        sign_in(researcher, base, "rita")
        check_page(researcher, f"{base}/incidents/new/", problems)
        researcher.get_by_role("button", name="Add another allegation").click()
        researcher.get_by_role("button", name="Add another source to allegation 2").click()
        expect(researcher.locator(".citation-row")).to_have_count(3)
        check_page(researcher, f"{base}/incidents/new/ with added rows", problems, opened=True)
        check_page(researcher, f"{base}/incidents/{archive['draft'].pk}/edit/", problems)
        check_page(researcher, f"{base}/incidents/{archive['draft'].pk}/", problems)  # the review panel: submit
        check_page(researcher, f"{base}/sources/new/", problems)
        check_page(researcher, f"{base}/sources/{archive['source'].pk}/edit/", problems)
        check_page(researcher, f"{base}/sources/{archive['source'].pk}/captures/new/", problems)

    reviewer = new_page()
    with step(reviewer, "reviewer-pages"):
        sign_in(reviewer, base, "vera")
        check_page(reviewer, f"{base}/incidents/{archive['in_review'].pk}/", problems, expected_forms=2)
        expect(reviewer.locator("form.review-approve")).to_be_visible()
        expect(reviewer.locator("form.review-request-changes")).to_be_visible()
        check_page(reviewer, f"{base}/incidents/{archive['published'].pk}/", problems)
        expect(reviewer.locator("form.review-withdraw")).to_be_visible()
        # Pages without a form of their own: still no unlabelled control, no positive tabindex.
        for path in ("/", "/sources/", f"/sources/{archive['source'].pk}/", "/review/",
                     f"/incidents/{archive['published'].pk}/history/",
                     f"/incidents/{archive['in_review'].pk}/revisions/"):
            check_page(reviewer, base + path, problems, expected_forms=0)

    assert problems == {}, "fields without a label, or positive tabindex values, by page"


# Back to the top of the page, as if it had just been opened without autofocus (the sign-in page focuses its
# username field): a blur would leave the sequential focus navigation starting point where focus was, so a
# throw-away element at the start of <body> takes focus and is removed, leaving the starting point there.
TO_THE_TOP = """() => {
  const probe = document.createElement("span");
  probe.tabIndex = -1;
  document.body.prepend(probe);
  probe.focus();
  probe.remove();
  window.scrollTo(0, 0);
}"""


# The browser applies autofocus at a rendering update after the page has loaded; moving focus back to the top
# before that happens would be undone by it, so wait until an autofocus field, if any, has taken focus.
AUTOFOCUS_DONE = """() => {
  const field = document.querySelector("[autofocus]");
  return !field || document.activeElement === field;
}"""


def focus_sequence(page, stop_in_main=True, limit=30):
    """Press Tab from the top of the page; the focused elements, up to the first one in <main>."""
    page.wait_for_function(AUTOFOCUS_DONE)
    page.evaluate(TO_THE_TOP)
    sequence = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        sequence.append(focused)
        if stop_in_main and focused["where"] == "main":
            break
    return sequence


def assert_skip_link_then_main_nav(page, url):
    page.goto(url)
    sequence = focus_sequence(page)
    first, where = sequence[0], [f["where"] for f in sequence]
    assert first.get("skip") and first["text"] == "Skip to main content", f"{url}: Tab first reached {first}"
    assert "nav" in where, f"{url}: Tab never reached the main navigation before the content: {sequence}"
    before_nav = where[1:where.index("nav")]
    assert all(w == "header" for w in before_nav), f"{url}: between the skip link and the navigation: {sequence}"
    assert sequence[where.index("nav")]["text"] == "Incidents", f"{url}: the navigation starts elsewhere: {sequence}"
    # Activating the skip link moves focus to the content: the next Tab lands inside <main>.
    page.evaluate(TO_THE_TOP)
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED).get("skip"), f"{url}: Tab from the top did not reach the skip link again"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("#main$"))
    assert page.evaluate("() => document.activeElement.id") == "main", \
        f"{url}: the skip link moved focus to {page.evaluate(FOCUSED)}"
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["where"] == "main", f"{url}: after the skip link, Tab left the content"


def test_tab_from_the_top_reaches_the_skip_link_first_then_the_main_navigation(archive, new_page, step, sign_in):
    base = archive["url"]
    visitor = new_page()
    with step(visitor, "anonymous"):
        for path in ("/", "/accounts/login/", "/sources/", f"/incidents/{archive['published'].pk}/"):
            assert_skip_link_then_main_nav(visitor, base + path)
    researcher = new_page()
    with step(researcher, "researcher"):
        sign_in(researcher, base, "rita")
        for path in ("/incidents/new/", f"/incidents/{archive['draft'].pk}/", "/sources/new/"):
            assert_skip_link_then_main_nav(researcher, base + path)


def tab_to(page, selector, limit=60):
    """Press Tab until the focused element matches the selector; fails when it is never reached."""
    for _ in range(limit):
        if page.evaluate("(selector) => document.activeElement.matches(selector)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} was not reached with Tab in {limit} presses")


def choose_by_typing(page, select_name, text, expected_value):
    """In a focused <select>, typing the start of an option's text chooses it (as a keyboard user does)."""
    page.keyboard.type(text, delay=20)
    value = page.evaluate("() => document.activeElement.value")
    assert value == str(expected_value), f"typing {text!r} in {select_name} chose {value!r}"


def test_a_researcher_signs_in_and_records_an_incident_with_the_keyboard_only(archive, new_page, step):
    base, page = archive["url"], new_page()

    with step(page, "sign-in-by-keyboard"):
        page.goto(f"{base}/accounts/login/")
        tab_to(page, "input[name=username]")
        page.keyboard.type("rita")
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.name") == "password"
        page.keyboard.type("correct horse battery staple")
        page.keyboard.press("Enter")
        expect(page.get_by_text("Signed in as rita")).to_be_visible()

    with step(page, "reach-the-form-from-the-navigation"):
        tab_to(page, "nav[aria-label=Main] a[href$='/incidents/new/']")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("Record an incident")

    with step(page, "fill-in-and-save-by-keyboard"):
        tab_to(page, "[name=reference_code]")
        page.keyboard.type("KEY-001")
        tab_to(page, "[name=title]")
        page.keyboard.type("Recorded without a mouse")
        tab_to(page, "[name=date_start]")
        page.keyboard.type("2020-10-04")
        tab_to(page, "[name=place]")
        choose_by_typing(page, "place", "Riverside", archive["place"].pk)
        tab_to(page, "[name='allegations-0-perpetrator']")
        choose_by_typing(page, "the perpetrator", "Party A", archive["party"].pk)
        tab_to(page, "[name='allegations-0-violation_types']")  # the first checkbox of the group
        page.keyboard.press("Space")
        tab_to(page, "[name='allegations-0-citations-0-source']")
        choose_by_typing(page, "the citation's source", "Riverside Monitor", archive["source"].pk)
        tab_to(page, "button.primary")
        assert page.evaluate("() => document.activeElement.textContent.trim()") == "Save as draft"
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text("Incident KEY-001 recorded as a draft")

    incident = Incident.objects.get(reference_code="KEY-001")
    allegation = incident.allegations.get()
    assert (incident.title, incident.place) == ("Recorded without a mouse", archive["place"])
    assert incident.status == Status.DRAFT
    assert allegation.perpetrator == archive["party"]
    assert allegation.violation_types.count() == 1
    assert [c.source for c in allegation.citations.all()] == [archive["source"]]
    assert re.search(rf"/incidents/{incident.pk}/$", page.url)
