"""What `make run` (careops) gives the processes: generated secrets, and Rasa's doors closed."""
from __future__ import annotations

from pathlib import Path

import pytest

from careops.__main__ import GENERATED_SECRETS, config_from_env
from careops.processes import StackConfig, stack


def test_every_secret_is_generated_once_and_an_old_file_gets_the_missing_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARE_INSTANCE_DIR", str(tmp_path))
    (tmp_path / "secrets.env").write_text("CARE_SECRET_KEY=kept\nCARE_SERVICE_TOKEN=kept-too\n")  # before #12

    first = config_from_env()
    again = config_from_env()

    assert (first.secret_key, first.service_token) == ("kept", "kept-too")
    assert first == again  # generated once, then read back
    lines = dict(line.split("=", 1) for line in (tmp_path / "secrets.env").read_text().splitlines())
    assert set(lines) == set(GENERATED_SECRETS)
    secrets = [first.rasa_token, first.actions_token, first.chat_secret]
    assert len(set(secrets)) == 3 and all(len(s) >= 32 for s in secrets)
    assert secrets != [StackConfig.rasa_token, StackConfig.actions_token, StackConfig.chat_secret]


def test_rasa_runs_with_its_api_token_and_the_sites_origin_only() -> None:
    config = StackConfig(rasa_token="api-token", actions_token="actions-token", chat_secret="chat-secret")
    processes = {p.name: p for p in stack(config)}
    rasa, actions = processes["rasa"], processes["actions"]
    argv = rasa.argv
    assert "--auth-token=api-token" in argv
    assert argv[argv.index("--cors") + 1:argv.index("--interface")] == ["http://127.0.0.1:5000"]
    assert rasa.env["CARE_CHAT_SECRET"] == "chat-secret"           # care_channels signs with it
    assert rasa.env["CARE_ACTIONS_TOKEN"] == "actions-token"       # endpoints.yml sends it
    assert actions.env["CARE_ACTIONS_TOKEN"] == "actions-token"    # care_action_server checks it
    assert "care_action_server" in actions.argv


def test_a_token_that_starts_with_a_dash_reaches_rasa_whole() -> None:
    """secrets.token_urlsafe starts with "-" one time in 64: `make run` failed with "argument
    -t/--auth-token: expected one argument". Rasa's CLI is argparse; parse the argv the same way."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("-t", "--auth-token")
    parser.add_argument("--enable-api", action="store_true")
    rasa = next(p for p in stack(StackConfig(rasa_token="-Xy_9")) if p.name == "rasa")
    known, _ = parser.parse_known_args(rasa.argv[2:4])
    assert known.auth_token == "-Xy_9"


def test_cors_origins_come_from_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARE_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("CARE_RASA_CORS_ORIGINS", "https://www.example.com https://shop.example.com")
    assert config_from_env().rasa_cors == ["https://www.example.com", "https://shop.example.com"]


def test_every_process_computes_with_one_thread_per_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    processes = {p.name: p for p in stack(StackConfig())}
    for process in processes.values():
        assert process.env["OMP_NUM_THREADS"] == "1" and process.env["MKL_NUM_THREADS"] == "1"
    assert processes["rasa"].env["TF_INTRA_OP_PARALLELISM_THREADS"] == "1"
    assert processes["rasa"].env["TF_INTER_OP_PARALLELISM_THREADS"] == "1"
    assert "TF_INTRA_OP_PARALLELISM_THREADS" not in processes["escalation"].env


def test_a_thread_count_already_in_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    for process in stack(StackConfig()):
        assert "OMP_NUM_THREADS" not in process.env  # the caller's 4 reaches it (Supervisor.start)
