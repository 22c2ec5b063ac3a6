"""The simulated users of bench/load.py: a cookie-keeping user agent, form reading, and what each role does.

Standard library only. Every request is timed and classified against what the
archive may answer to it (EXPECTED); every acknowledged write goes into the
shared ledger with what it wrote, for bench/load_db.py to look for afterwards.
"""
import hashlib
import http.client
import re
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlencode

MAX_REQUESTS_PER_CLIENT = 50_000
SEARCH_WORDS = ["shelling", "hospital", "school", "cluster", "Northtown", "rocket", "market", "%", "_"]
INCIDENT_LINK = re.compile(r'href="/incidents/(\d+)/"')
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
APPROVE_SHA = re.compile(r'name="sha256" value="([0-9a-f]{64})"')
REQUEST_TIMEOUT = 90


# --- one client: cookies, forms, timing -----------------------------------------------------------------------

class FormReader(HTMLParser):
    """What a browser would submit from the first form matching `selector` (a substring of its start tag)."""

    def __init__(self, html, selector):
        super().__init__(convert_charrefs=True)
        self.selector, self.in_form, self.done = selector, False, False
        self.values, self.options = defaultdict(list), defaultdict(list)
        self.select = self.textarea = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and not self.done and self.selector in self.get_starttag_text():
            self.in_form = True
        if not self.in_form:
            return
        if tag == "input":
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "image", "reset", "file") or (kind in ("checkbox", "radio") and "checked" not in attrs):
                return
            self.values[attrs["name"]].append(attrs.get("value") or ("on" if kind == "checkbox" else ""))
        elif tag == "select":
            self.select = {"name": attrs["name"], "multiple": "multiple" in attrs, "chosen": [], "first": None}
        elif tag == "option" and self.select is not None:
            value = attrs.get("value", "")
            self.options[self.select["name"]].append(value)
            self.select["first"] = value if self.select["first"] is None else self.select["first"]
            if "selected" in attrs:
                self.select["chosen"].append(value)
        elif tag == "textarea":
            self.textarea = [attrs["name"], ""]

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.in_form:
            self.in_form, self.done = False, True
        elif tag == "select" and self.select is not None:
            chosen = self.select["chosen"] or ([] if self.select["multiple"] or self.select["first"] is None else [self.select["first"]])
            self.values[self.select["name"]].extend(chosen)
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            name, text = self.textarea
            self.values[name].append(text[1:] if text.startswith("\n") else text)
            self.textarea = None

    def filled(self, **changes):
        values = dict(self.values)
        for name, value in changes.items():
            values[name] = value if isinstance(value, list) else [value]
        return [(name, value) for name, items in values.items() for value in items]

    def first_option(self, name):
        return next((value for value in self.options[name] if value), "")


@dataclass
class Answer:
    status: int | None
    location: str = ""
    body: str = ""


@dataclass
class Sample:
    kind: str
    path: str
    started: float
    ended: float
    status: int | None
    outcome: str  # ok, ack, conflict, gone, redirected, unexpected, connection
    detail: str = ""


EXPECTED = {
    # kind: {status: outcome}; everything else is unexpected.
    "login": {302: "ok"}, "create": {302: "ack"}, "capture": {302: "ack"},
    "edit": {302: "ack", 409: "conflict"}, "revise": {302: "ack", 409: "conflict"},
    "submit": {302: "ack", 409: "conflict"}, "approve": {302: "ack", 409: "conflict", 404: "gone"},
    "revise_form": {200: "ok", 302: "redirected"}, "review_detail": {200: "ok", 404: "gone"},
}
ACK_LOCATION = {"capture": re.compile(r"^/sources/(\d+)/$"), "login": re.compile(r"^/$")}
INCIDENT_LOCATION = re.compile(r"^/incidents/(\d+)/$")


class Browser:
    """One user agent: its own cookies, one connection per request, every request timed and classified."""

    def __init__(self, port, samples, stop_at):
        self.port, self.samples, self.stop_at = port, samples, stop_at
        self.cookies, self.count = {}, 0

    def request(self, kind, method, path, fields=None, files=None):
        if self.count >= MAX_REQUESTS_PER_CLIENT:
            raise TimeoutError("request budget spent")
        self.count += 1
        headers = {"Host": "127.0.0.1", "Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if files:
            body, headers["Content-Type"] = multipart(fields, files)
        elif fields is not None:
            body, headers["Content-Type"] = urlencode(fields).encode(), "application/x-www-form-urlencoded"
        started = time.monotonic()
        try:
            answer = self._send(method, path, body, headers)
        except (OSError, http.client.HTTPException) as error:
            self.samples.append(Sample(kind, path, started, time.monotonic(), None, "connection", repr(error)))
            return Answer(None)
        outcome = classify(kind, answer)
        detail = "" if outcome != "unexpected" else f"{answer.location} {strip_tags(answer.body)[:300]}"
        self.samples.append(Sample(kind, path, started, time.monotonic(), answer.status, outcome, detail))
        return answer

    def _send(self, method, path, body, headers):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            for cookie in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0]
                if 'max-age=0' in cookie.lower() or not value or value == '""':
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
            return Answer(response.status, response.headers.get("Location", ""), text)
        finally:
            connection.close()

    def get(self, kind, path):
        return self.request(kind, "GET", path)

    def csrf(self, html):
        match = CSRF_INPUT.search(html)
        return match.group(1) if match else self.cookies.get("csrftoken", "")


def classify(kind, answer):
    if answer.status >= 500:
        return "server error"
    outcome = EXPECTED.get(kind, {200: "ok"}).get(answer.status, "unexpected")
    if outcome in ("ack", "ok") and answer.status == 302:
        pattern = ACK_LOCATION.get(kind, INCIDENT_LOCATION)
        if not pattern.match(answer.location):
            return "unexpected"
    return outcome


def strip_tags(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def multipart(fields, files):
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, data in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# --- what the clients do ---------------------------------------------------------------------------------------

class Shared:
    """What all clients learn as the run goes: published incidents, and the ledger of acknowledged writes."""

    def __init__(self, seeded):
        self.lock = threading.Lock()
        self.published = list(seeded["published"])
        self.parties = seeded["parties"]
        self.sources = seeded["sources"]
        self.ledger = []

    def acknowledge(self, **write):
        with self.lock:
            self.ledger.append(write)

    def add_published(self, pk):
        with self.lock:
            if pk not in self.published:
                self.published.append(pk)

    def a_published(self, rng):
        with self.lock:
            return rng.choice(self.published)


def reader(browser, shared, rng, extra_paths):
    while time.monotonic() < browser.stop_at:
        choice = rng.random()
        if choice < 0.25:
            browser.get("list", "/")
        elif choice < 0.35:
            browser.get("list_page", f"/?page={rng.randint(1, 3)}")
        elif choice < 0.50:
            browser.get("search", "/?" + urlencode({"q": rng.choice(SEARCH_WORDS)}))
        elif choice < 0.58:
            browser.get("filter", "/?" + urlencode({"party": rng.choice(shared.parties)}))
        elif choice < 0.65:
            # Two parties: not in the running totals, so counted from the column copy, or in SQL while each
            # worker reads it (again, after the writes of the other clients).
            parties = rng.sample(shared.parties, min(2, len(shared.parties)))
            browser.get("balance_parties", "/balance/?" + urlencode([("party", party) for party in parties]))
        elif choice < 0.90:
            browser.get("detail", f"/incidents/{shared.a_published(rng)}/")
        elif choice < 0.95 or not extra_paths:
            browser.get("sources", "/sources/")
        else:
            kind, path = rng.choice(extra_paths)
            browser.get(kind, path.format(party=rng.choice(shared.parties)))


def log_in(browser, username, password):
    page = browser.get("login_form", "/accounts/login/")
    fields = FormReader(page.body, 'action="/accounts/login/"').filled(username=username, password=password, next="/")
    if browser.request("login", "POST", "/accounts/login/", fields).status != 302:
        raise RuntimeError(f"{username} could not sign in")


class Researcher:
    def __init__(self, browser, shared, rng, username, drafts):
        self.browser, self.shared, self.rng, self.username = browser, shared, rng, username
        self.drafts, self.serial = list(drafts), 0

    def run(self):
        while time.monotonic() < self.browser.stop_at:
            choice = self.rng.random()
            if choice < 0.20:
                self.browser.get("list_staff", "/?" + urlencode({"party": self.rng.choice(self.shared.parties)}))
            elif choice < 0.30 or (choice < 0.45 and len(self.drafts) < 2):
                self.create()
            elif choice < 0.60 and self.drafts:
                self.edit(self.rng.choice(self.drafts))
            elif choice < 0.72:
                self.revise(self.shared.a_published(self.rng))
            elif choice < 0.88 and self.drafts:
                self.submit(self.drafts.pop(self.rng.randrange(len(self.drafts))))
            else:
                self.capture(self.rng.choice(self.shared.sources))

    def marker(self, what):
        self.serial += 1
        return f"Load {what} by {self.username} no. {self.serial}"

    def create(self):
        page = self.browser.get("create_form", "/incidents/new/")
        if page.status != 200:
            return
        form = FormReader(page.body, "incident-form")
        reference, title = f"LOAD-{self.username}-{self.serial + 1}", self.marker("record")
        fields = form.filled(**{
            "reference_code": reference, "title": title, "date_start": f"2021-03-{self.rng.randint(1, 28):02d}",
            "date_precision": "day", "place": form.first_option("place"),
            "allegations-0-perpetrator": self.rng.choice([v for v in form.options["allegations-0-perpetrator"] if v]),
            "allegations-0-summary": "Load Watch reports an attack.",
            "allegations-0-citations-0-source": form.first_option("allegations-0-citations-0-source"),
        })
        answer = self.browser.request("create", "POST", "/incidents/new/", fields)
        if answer.status == 302 and (match := INCIDENT_LOCATION.match(answer.location)):
            pk = int(match.group(1))
            self.drafts.append(pk)
            self.shared.acknowledge(kind="create", user=self.username, pk=pk, title=title, reference_code=reference)

    def _post_edit(self, kind, pk, page):
        title = self.marker(kind)
        fields = FormReader(page.body, "incident-form").filled(title=title)
        answer = self.browser.request(kind, "POST", f"/incidents/{pk}/edit/", fields)
        if answer.status == 302 and (match := INCIDENT_LOCATION.match(answer.location)):
            saved = int(match.group(1))
            self.shared.acknowledge(kind=kind, user=self.username, pk=saved, edited=pk, title=title)
            return saved
        return None

    def edit(self, pk):
        page = self.browser.get("edit_form", f"/incidents/{pk}/edit/")
        if page.status == 200:
            self._post_edit("edit", pk, page)

    def revise(self, pk):
        """Edit a published incident: a working revision, or a 409 when someone else started one first."""
        page = self.browser.get("revise_form", f"/incidents/{pk}/edit/")
        if page.status == 200 and (copy := self._post_edit("revise", pk, page)) is not None and copy != pk:
            self.drafts.append(copy)

    def submit(self, pk):
        page = self.browser.get("detail_staff", f"/incidents/{pk}/")
        if page.status != 200:
            return
        answer = self.browser.request("submit", "POST", f"/incidents/{pk}/submit/", [("csrfmiddlewaretoken", self.browser.csrf(page.body))])
        if answer.status == 302 and INCIDENT_LOCATION.match(answer.location):
            self.shared.acknowledge(kind="submit", user=self.username, pk=pk)

    def capture(self, source):
        page = self.browser.get("capture_form", f"/sources/{source}/captures/new/")
        if page.status != 200:
            return
        data = f"Capture made under load by {self.username}, no. {self.serial}, {uuid.uuid4()}.\n".encode()
        self.serial += 1
        fields = [("csrfmiddlewaretoken", self.browser.csrf(page.body)), ("method", "upload"), ("notes", "load test")]
        answer = self.browser.request("capture", "POST", f"/sources/{source}/captures/new/", fields,
                                      files=[("files", f"capture-{self.serial}.txt", data)])
        if answer.status == 302 and ACK_LOCATION["capture"].match(answer.location):
            self.shared.acknowledge(kind="capture", user=self.username, source=source,
                                    sha256=hashlib.sha256(data).hexdigest())


def reviewer(browser, shared, rng, username):
    while time.monotonic() < browser.stop_at:
        queue = browser.get("queue", "/review/")
        waiting = INCIDENT_LINK.findall(queue.body) if queue.status == 200 else []
        if not waiting:
            browser.get("list_staff", "/")
            time.sleep(0.2)
            continue
        pk = int(rng.choice(waiting[:8]))
        page = browser.get("review_detail", f"/incidents/{pk}/")
        match = APPROVE_SHA.search(page.body) if page.status == 200 else None
        if match is None:
            continue
        fields = [("csrfmiddlewaretoken", browser.csrf(page.body)), ("sha256", match.group(1)), ("comment", "load test")]
        answer = browser.request("approve", "POST", f"/incidents/{pk}/approve/", fields)
        if answer.status == 302 and (done := INCIDENT_LOCATION.match(answer.location)):
            published = int(done.group(1))
            shared.add_published(published)
            shared.acknowledge(kind="approve", user=username, pk=published, sha256=match.group(1))
