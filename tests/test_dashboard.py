"""optuna-dashboard on loopback for a sweep's study: its API from Python, its pages in Chromium, and its guards
(read-only; loopback Host headers only, against DNS rebinding)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from lab.search.space import parse_spec
from lab.search.sweep import run_sweep

CHROMIUM = Path(os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium"))
FAST = {"run.eval_every": 150, "run.eval_episodes": 1, "env.max_episode_steps": 60,
        "training.learning_starts": 100, "run.analyze_episodes": False}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A finished two-run sweep, its study in SQLite."""
    folder = tmp_path_factory.mktemp("dash") / "sweep"
    spec = parse_spec({"name": "dash", "type": "grid", "base": "tiny", "steps_per_run": 300, "overrides": FAST,
                       "parameters": {"actor_lr": [1e-3, 3e-3]}})
    results = run_sweep(spec, folder, log=lambda _: None)
    return f"sqlite:///{(folder / 'optuna.db').resolve()}", results


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def ask(url: str, method: str = "GET", host: str | None = None, body: bytes | None = None) -> tuple[int, str]:
    """The status and body of one request, with this Host header when given (urllib sends it as set)."""
    request = urllib.request.Request(url, method=method, data=body)
    if host is not None:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_dashboard_serves_the_study_on_loopback_and_is_shared(swept):
    from lab.search.dashboard import serve, show

    url, results = swept
    dashboard = serve(url)
    try:
        assert dashboard.url.startswith("http://127.0.0.1:") and dashboard.url.endswith("/dashboard/")
        assert serve(url) is dashboard  # one server per storage per process
        base = dashboard.url.removesuffix("dashboard/")
        studies = get_json(f"{base}api/studies")["study_summaries"]
        assert [s["study_name"] for s in studies] == ["dash"]
        study = get_json(f"{base}api/studies/{studies[0]['study_id']}")
        finals = sorted(t["values"][0] for t in study["trials"])
        assert finals == sorted(r["final_eval_mean"] for r in results)
        assert {t["params"][0]["name"] for t in study["trials"]} == {"actor_lr"}
        frame = show(url, height=500)
        assert frame.src == dashboard.url and frame.height == 500
    finally:
        dashboard.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}api/studies", timeout=5)


def test_the_dashboard_refuses_every_write_and_the_study_stays(swept):
    import optuna

    from lab.search.dashboard import serve

    url, results = swept
    dashboard = serve(url)
    try:
        api = dashboard.url.removesuffix("dashboard/") + "api"
        study_id = get_json(f"{api}/studies")["study_summaries"][0]["study_id"]
        trial_id = get_json(f"{api}/studies/{study_id}")["trials"][0]["trial_id"]
        writes = [("DELETE", f"{api}/studies/{study_id}"), ("POST", f"{api}/studies"),
                  ("POST", f"{api}/studies/{study_id}/rename"), ("PUT", f"{api}/studies/{study_id}/note"),
                  ("POST", f"{api}/trials/{trial_id}/tell"), ("POST", f"{api}/trials/{trial_id}/user-attrs"),
                  ("PATCH", f"{api}/studies/{study_id}")]
        for method, target in writes:
            status, text = ask(target, method, body=b'{"study_name": "x", "state": "Fail", "values": [1]}')
            assert status == 405 and "read-only" in text, (method, target, status, text)
        studies = get_json(f"{api}/studies")["study_summaries"]
        assert [s["study_name"] for s in studies] == ["dash"]  # the study is still there, untouched
        assert len(get_json(f"{api}/studies/{study_id}")["trials"]) == len(results)
        assert ask(f"{api}/studies", "HEAD")[0] == 200
    finally:
        dashboard.stop()
    stored = optuna.load_study(study_name="dash", storage=url)
    assert len(stored.trials) == len(results) and "note" not in json.dumps(stored.user_attrs)


def test_the_dashboard_answers_only_loopback_host_names_with_its_port(swept):
    import http.client

    from lab.search.dashboard import serve

    url, _ = swept
    dashboard = serve(url)
    try:
        port = int(dashboard.url.split(":")[2].split("/")[0])
        studies = dashboard.url.removesuffix("dashboard/") + "api/studies"
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
            assert ask(studies, host=host)[0] == 200, host
        for host in (f"attacker.example:{port}", "attacker.example", f"127.0.0.1.attacker.example:{port}",
                     f"127.0.0.1:{port + 1}", "127.0.0.1", f"localhost.:{port}"):
            status, text = ask(studies, host=host)
            assert status == 403 and f"Host {host!r} refused" in text, (host, status, text)
        assert ask(studies, "DELETE", host=f"attacker.example:{port}")[0] == 403  # the Host check comes first
        page = ask(dashboard.url, host=f"attacker.example:{port}")
        assert page[0] == 403 and "<html" not in page[1].lower()  # not the app, nor its script
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.putrequest("GET", "/api/studies", skip_host=True)  # no Host header at all
            conn.endheaders()
            assert conn.getresponse().status == 403
        finally:
            conn.close()
    finally:
        dashboard.stop()


@pytest.mark.browser
@pytest.mark.slow
def test_chromium_finds_the_studys_trials_in_the_dashboard(swept):
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium, or set LAB_CHROMIUM"
    from playwright.sync_api import expect, sync_playwright

    from lab.search.dashboard import serve

    url, results = swept
    dashboard = serve(url)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            try:
                page.goto(dashboard.url)
                page.get_by_role("heading", name="1. dash").click()  # the study list links to the study
                expect(page).to_have_url(dashboard.study_url())
                page.goto(f"{dashboard.study_url()}/trials")
                for number in range(len(results)):
                    expect(page.get_by_text(f"Trial {number}", exact=False).first).to_be_visible()
                expect(page.get_by_text("actor_lr").first).to_be_visible()
            finally:
                browser.close()
    finally:
        dashboard.stop()


def test_tune_dashboard_prints_the_local_address_of_the_studys_dashboard(tmp_path, capsys):
    import re

    from lab.cli import main
    from lab.search.dashboard import serve

    spec = tmp_path / "t.json"
    spec.write_text(json.dumps({"name": "t", "base": "tiny", "steps_per_run": 300, "overrides": FAST,
                                "parameters": {"actor_lr": {"min": 1e-4, "max": 1e-2, "type": "log"}}}))
    assert main(["tune", str(spec), "--out", str(tmp_path / "out"), "--trials", "1", "--dashboard"]) == 0
    printed = re.search(r"^dashboard: (http://127\.0\.0\.1:\d+/dashboard/)$", capsys.readouterr().out, re.M)
    assert printed, "no dashboard address printed"
    dashboard = serve(f"sqlite:///{(tmp_path / 'out' / 'optuna.db').resolve()}")  # the server the command started
    try:
        assert dashboard.url == printed.group(1)
        base = dashboard.url.removesuffix("dashboard/")
        studies = get_json(f"{base}api/studies")["study_summaries"]
        assert [s["study_name"] for s in studies] == ["t"]
        assert len(get_json(f"{base}api/studies/{studies[0]['study_id']}")["trials"]) == 1
    finally:
        dashboard.stop()
