"""Load and fault test: the archive under gunicorn, driven by concurrent readers, researchers and reviewers.

    .venv/bin/python bench/load.py --database sqlite|postgres [--seconds 60] [--clients 24] [--workers 3] [--kill-worker]

It prepares a database of its own (var/load/<database>/archive.sqlite3, or the
PostgreSQL database archive_f_load, dropped and created), migrates it, seeds
accounts and incidents through the services (bench/load_db.py), starts gunicorn
on 127.0.0.1 with production settings (DEBUG off), and drives the clients for
the given time. Half the clients read anonymously (list, pages, full-text and
party searches, details, sources); a third are researchers (record, edit,
revise published incidents, submit, attach captures); the rest are reviewers
(open the queue, read an incident, approve the hash they were shown).

Every write answered with a redirect to its result is an acknowledged write and
is written down with what it wrote. The run passes only with no 5xx answer, no
"database is locked" anywhere, no unexpected answer, every acknowledged write
present afterwards, and verify_audit and verify_files clean. 409 answers (two
people editing or approving the same thing) are expected outcomes and counted.
With --kill-worker one worker is SIGKILLed mid-run: requests it had in flight
fail at the connection level and are counted apart; they are not acknowledged.
With --backup, `manage.py backup` runs mid-run against the live database; after
the run the backup is restored into an empty location and verified there, and
the live audit log must continue the head the backup recorded.

The simulated users live in bench/load_clients.py; seeding and the check of
every acknowledged write, which run inside Django, in bench/load_db.py. Each
run leaves its gunicorn log, ledger and report in var/load/<database>/.
"""
import argparse
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from load_clients import REQUEST_TIMEOUT, Browser, Researcher, Shared, log_in, reader, reviewer

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LOG_PROBLEMS = {
    "database is locked": re.compile(r"database is locked"),
    "tracebacks": re.compile(r"^Traceback \(most recent call last\)", re.M),
    "worker timeouts": re.compile(r"WORKER TIMEOUT"),
    "deadlocks": re.compile(r"deadlock detected"),
}


# --- the database and the server ----------------------------------------------------------------------------

def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare_database(kind, workdir, pg_url):
    """A fresh, empty database; returns its DATABASE_URL."""
    if kind == "sqlite":
        path = workdir / "archive.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    with psycopg.connect(f"{pg_url.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS archive_f_load WITH (FORCE)")
        conn.execute("CREATE DATABASE archive_f_load")
    return f"{pg_url.rstrip('/')}/archive_f_load"


def server_env(database_url, media_root):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        DATABASE_URL=database_url, MEDIA_ROOT=str(media_root), DJANGO_SETTINGS_MODULE="archive.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_ALLOWED_HOSTS="127.0.0.1",
        # Plain HTTP on the loopback: no HTTPS redirect, cookies without the Secure flag.
        DJANGO_SECURE="0", DJANGO_LOG_LEVEL="WARNING",
    )
    return env


def run(args, env, timeout=600):
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return done.returncode, (done.stdout + done.stderr).strip()


def must(args, env, what, timeout=600):
    code, output = run(args, env, timeout)
    if code:
        sys.exit(f"{what} failed:\n{output}")
    return output


def start_server(env, workers, worker_class, threads, log_path):
    port = free_port()
    log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed by stop_server
    command = [
        str(Path(PYTHON).with_name("gunicorn")), "archive.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", worker_class, "--threads", str(threads),
        "--timeout", "60", "--graceful-timeout", "20", "--log-level", "info", "--error-logfile", "-",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log = log
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn exited at start; see {log_path}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/", headers={"Host": "127.0.0.1"})
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.3)
    stop_server(process)
    sys.exit(f"gunicorn did not answer within 60 s; see {log_path}")


def worker_pids(master):
    try:
        return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


def stop_server(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    process.log.close()


# --- the run -----------------------------------------------------------------------------------------------------

def client_thread(role, index, port, stop_at, shared, samples, crashes, seeded, password, extra_paths):
    rng = random.Random(f"{role}-{index}")
    browser = Browser(port, samples, stop_at)
    try:
        if role == "reader":
            reader(browser, shared, rng, extra_paths)
            return
        username = f"{role}{index:02d}"
        log_in(browser, username, password)
        if role == "researcher":
            Researcher(browser, shared, rng, username, seeded["drafts"].get(username, [])).run()
        else:
            reviewer(browser, shared, rng, username)
    except Exception as error:  # noqa: BLE001 - a client that dies is reported as a failure of the run
        crashes.append(f"{role} {index}: {error!r}")


def open_sockets(pid):
    try:
        return sum(os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:") for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def busy_worker(master, until):
    """A worker holding a client connection (one socket more than the idlest worker), or any after `until`."""
    while True:
        sockets = {pid: open_sockets(pid) for pid in worker_pids(master)}
        if not sockets:
            return None
        busy = [pid for pid, count in sockets.items() if count > min(sockets.values())]
        if busy or time.monotonic() > until:
            return random.choice(busy or list(sockets))
        time.sleep(0.01)


def killer(master, at, kills):
    time.sleep(max(0.0, at - time.monotonic()))
    pids = worker_pids(master)
    victim = busy_worker(master, time.monotonic() + 5)
    if victim is None:
        kills.append({"error": "no worker found to kill"})
        return
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    record = {"pid": victim, "at": killed_at}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = worker_pids(master)
        if victim not in current and len(current) >= len(pids):
            record["replaced_after"] = round(time.monotonic() - killed_at, 2)
            break
        time.sleep(0.2)
    kills.append(record)


def backup_during(env, directory, at, backups):
    time.sleep(max(0.0, at - time.monotonic()))
    started = time.monotonic()
    code, output = run([PYTHON, "manage.py", "backup", str(directory)], env)
    backups.append({"code": code, "output": output, "seconds": time.monotonic() - started})


def check_backup(args, workdir, env, backups):
    """Restore the mid-run backup into an empty location, verify it there, and check the live log continues it."""
    if not backups or backups[0]["code"]:
        return {"backup under load": (1, backups[0]["output"] if backups else "the backup never ran")}
    checks = {"backup under load": (0, f"{backups[0]['seconds']:.1f} s; " + backups[0]["output"])}
    manifest = json.loads((workdir / "backup" / "manifest.json").read_text())
    if args.database == "sqlite":
        restored_url = f"sqlite:///{workdir / 'restored' / 'archive.sqlite3'}"
    else:
        import psycopg

        with psycopg.connect(f"{args.pg_url.rstrip('/')}/postgres", autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS archive_f_load_restore WITH (FORCE)")
            conn.execute("CREATE DATABASE archive_f_load_restore")
        restored_url = f"{args.pg_url.rstrip('/')}/archive_f_load_restore"
    restored = dict(env, DATABASE_URL=restored_url, MEDIA_ROOT=str(workdir / "restored-media"))
    for name, command, environment in [
        ("restore into an empty location", ["manage.py", "restore", str(workdir / "backup")], restored),
        ("verify_files on the restore", ["manage.py", "verify_files", "--no-record"], restored),
        ("verify_audit on the restore", ["manage.py", "verify_audit"], restored),
        ("live log continues the backed-up head", ["manage.py", "verify_audit", "--expect-head", manifest["audit_head"]], env),
    ]:
        checks[name] = run([PYTHON, *command], environment)
    return checks


def gist(output):
    """The line of a command's output worth printing: its first, unless it failed."""
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("Rows:")]
    return lines[0] if lines else ""


def optional_paths(port):
    """Finding pages that exist in this version of the archive, to read under load as well."""
    paths = []
    for kind, path in [("balance", "/balance/?party={party}"), ("export_csv", "/incidents/export.csv?party={party}")]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", path.format(party=""), headers={"Host": "127.0.0.1"})
            if connection.getresponse().status == 200:
                paths.append((kind, path))
        finally:
            connection.close()
    return paths


def drive(args, port, master, seeded, password, env, workdir):
    readers, researchers, reviewers = role_counts(args.clients)
    shared, samples, crashes, kills, backups = Shared(seeded), [], [], [], []
    extra_paths = optional_paths(port)
    started = time.monotonic()
    stop_at = started + args.seconds
    threads = [
        threading.Thread(target=client_thread, daemon=True, args=(
            role, index, port, stop_at, shared, samples, crashes, seeded, password, extra_paths))
        for role, count in (("reader", readers), ("researcher", researchers), ("reviewer", reviewers))
        for index in range(1, count + 1)
    ]
    if args.kill_worker:
        threads.append(threading.Thread(target=killer, args=(master, started + args.seconds * 0.4, kills), daemon=True))
    if args.backup:
        threads.append(threading.Thread(target=backup_during, daemon=True,
                                        args=(env, workdir / "backup", started + args.seconds * 0.6, backups)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, stop_at + REQUEST_TIMEOUT + 30 - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    return {
        "samples": samples, "ledger": shared.ledger, "crashes": crashes + [f"{stuck} client(s) did not stop"] * bool(stuck),
        "kills": kills, "backups": backups, "elapsed": time.monotonic() - started,
        "roles": {"anonymous readers": readers, "researchers": researchers, "reviewers": reviewers},
    }


def in_kill_window(sample, kills):
    return any("at" in kill and sample.started <= kill["at"] + 1.0 and kill["at"] - 1.0 <= sample.ended <= kill["at"] + 15
               for kill in kills)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))] if ordered else 0.0


def summarise(result, checked, log_text, verify, args):
    samples, kills = result["samples"], result["kills"]
    outcomes = Counter(s.outcome for s in samples)
    connection = [s for s in samples if s.outcome == "connection"]
    during_kill = [s for s in connection if in_kill_window(s, kills)]
    failures = []
    server_errors = [s for s in samples if s.status is not None and s.status >= 500]
    unexpected = [s for s in samples if s.outcome == "unexpected"]
    log_counts = {name: len(pattern.findall(log_text)) for name, pattern in LOG_PROBLEMS.items()}
    failures += [f"{len(server_errors)} 5xx answers"] * bool(server_errors)
    failures += [f"{len(unexpected)} unexpected answers"] * bool(unexpected)
    failures += [f"{len(connection) - len(during_kill)} connection errors"] * bool(len(connection) - len(during_kill))
    failures += [f"{count} {name} in the server log" for name, count in log_counts.items() if count]
    failures += result["crashes"] + checked["problems"] + [f"{name} failed" for name, (code, _) in verify.items() if code]
    failures += [kill["error"] for kill in kills if "error" in kill]
    if args.kill_worker and not any("replaced_after" in kill for kill in kills):
        failures.append("the killed worker was not replaced")
    lines = report_lines(result, checked, verify, outcomes, connection, during_kill, log_counts, args)
    for sample in (server_errors + unexpected + [s for s in connection if s not in during_kill])[:10]:
        lines.append(f"  e.g. {sample.kind} {sample.path} -> {sample.status or sample.detail} {sample.detail[:200]}")
    lines.append("FAIL: " + "; ".join(failures[:20]) if failures else "PASS")
    return lines, not failures


def report_lines(result, checked, verify, outcomes, connection, during_kill, log_counts, args):
    samples, elapsed = result["samples"], result["elapsed"]
    latencies = [s.ended - s.started for s in samples if s.status is not None]
    roles = ", ".join(f"{count} {name}" for name, count in result["roles"].items())
    lines = [
        f"Load run on {args.database}: {args.seconds} s, {args.clients} clients ({roles}), gunicorn "
        f"{args.workers} {args.worker_class} workers" + (", one worker SIGKILLed mid-run" if args.kill_worker else ""),
        f"Requests: {len(samples)} in {elapsed:.1f} s ({len(samples) / elapsed:.1f}/s); "
        f"latency p50 {percentile(latencies, 0.5) * 1000:.0f} ms, p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
        f"max {max(latencies, default=0) * 1000:.0f} ms",
        f"{'kind':<14}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}  answers",
    ]
    by_kind = defaultdict(list)
    for sample in samples:
        by_kind[sample.kind].append(sample)
    for kind in sorted(by_kind):
        group = by_kind[kind]
        times = [s.ended - s.started for s in group if s.status is not None]
        answers = Counter(s.status or "conn" for s in group)
        lines.append(f"{kind:<14}{len(group):>7}{percentile(times, 0.5) * 1000:>9.0f}{percentile(times, 0.95) * 1000:>9.0f}  "
                     + " ".join(f"{status}x{count}" for status, count in sorted(answers.items(), key=str)))
    acknowledged = Counter(write["kind"] for write in result["ledger"])
    lines += [
        "Acknowledged writes: " + ", ".join(f"{kind} {count}" for kind, count in sorted(acknowledged.items()))
        + f" (total {sum(acknowledged.values())}); present afterwards: "
        + (f"all {checked['checked']}" if not checked["problems"] else f"{len(checked['problems'])} MISSING"),
        f"Expected refusals: 409 conflicts {outcomes['conflict']}, gone (404 after promotion) {outcomes['gone']}, "
        f"edit pages redirected to an existing working revision {outcomes['redirected']}",
        f"5xx: {sum(1 for s in samples if s.status and s.status >= 500)}; unexpected answers: {outcomes['unexpected']}; "
        f"connection errors: {len(connection) - len(during_kill)} (during the kill: {len(during_kill)}); "
        + ", ".join(f"{name}: {count}" for name, count in log_counts.items()),
    ]
    for kill in result["kills"]:
        if "pid" in kill:
            cut = ", ".join(f"{s.kind} ({s.detail[:60]})" for s in during_kill) or "none"
            lines.append(f"Killed worker {kill['pid']}; replaced after {kill.get('replaced_after', 'never')} s; "
                         f"requests cut off: {cut}")
    lines.append(f"Incidents by status afterwards: {checked['incidents_by_status']}; audit head {checked['audit_head'][:20]}…")
    for name, (code, output) in verify.items():
        lines.append(f"{name}: {'OK' if not code else 'FAILED'} — {gist(output) if not code else output.strip()[-600:]}")
    return lines


def role_counts(clients):
    readers, researchers = clients // 2, max(1, clients // 3)
    return readers, researchers, max(1, clients - readers - researchers)


def prepare(args, workdir):
    """A fresh database, migrated and seeded; returns the server's environment, the seed and the password."""
    if workdir.exists() and any(workdir.iterdir()) and not (workdir / ".bench-load").exists():
        sys.exit(f"{workdir} holds files this script did not make; choose another --workdir")
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / ".bench-load").touch()
    env = server_env(prepare_database(args.database, workdir, args.pg_url), workdir / "media")
    print(f"Preparing {env['DATABASE_URL']} ...", flush=True)
    must([PYTHON, "manage.py", "migrate", "--no-input"], env, "migrate")
    password = secrets.token_urlsafe(16)
    _, researchers, reviewers = role_counts(args.clients)
    config = {
        "password": password,
        "researchers": [f"researcher{i:02d}" for i in range(1, researchers + 1)],
        "reviewers": [f"reviewer{i:02d}" for i in range(1, reviewers + 1)],
        "published": 30, "in_review": 12, "drafts_each": 2, "sources": 4,
    }
    (workdir / "config.json").write_text(json.dumps(config))
    must([PYTHON, "bench/load_db.py", "seed", str(workdir / "config.json"), str(workdir / "seeded.json")], env, "seeding")
    return env, json.loads((workdir / "seeded.json").read_text()), password


def verify_afterwards(args, workdir, env, result):
    (workdir / "ledger.json").write_text(json.dumps(result["ledger"], indent=1))
    must([PYTHON, "bench/load_db.py", "check", str(workdir / "ledger.json"), str(workdir / "checked.json")], env, "checking")
    checked = json.loads((workdir / "checked.json").read_text())
    verify = {
        "verify_files": run([PYTHON, "manage.py", "verify_files"], env),
        "verify_audit": run([PYTHON, "manage.py", "verify_audit"], env),
    }
    if args.backup:
        verify.update(check_backup(args, workdir, env, result["backups"]))
    return checked, verify


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread)")
    parser.add_argument("--kill-worker", action="store_true", help="SIGKILL one gunicorn worker mid-run")
    parser.add_argument("--backup", action="store_true",
                        help="run manage.py backup mid-run, then restore it into an empty location and verify it")
    parser.add_argument("--workdir", help="where the run keeps its database file, files and logs (emptied first); "
                                          "default var/load/DATABASE")
    parser.add_argument("--pg-url", default=os.environ.get("LOAD_PG_URL", "postgres://postgres@127.0.0.1:5432"),
                        help="PostgreSQL server (without a database name) where archive_f_load is created")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 3600 or not 3 <= args.clients <= 200:
        parser.error("--seconds must be 1..3600 and --clients 3..200")
    return args


def main():
    args = arguments()
    workdir = Path(args.workdir).resolve() if args.workdir else ROOT / "var" / "load" / args.database
    env, seeded, password = prepare(args, workdir)
    server, port = start_server(env, args.workers, args.worker_class, args.threads, workdir / "gunicorn.log")
    print(f"gunicorn on 127.0.0.1:{port} (master {server.pid}); driving {args.clients} clients for {args.seconds} s ...",
          flush=True)
    try:
        result = drive(args, port, server.pid, seeded, password, env, workdir)
    finally:
        stop_server(server)
    checked, verify = verify_afterwards(args, workdir, env, result)
    lines, passed = summarise(result, checked, (workdir / "gunicorn.log").read_text(errors="replace"), verify, args)
    print("\n".join(lines))
    (workdir / "report.txt").write_text("\n".join(lines) + "\n")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
