"""SEC-001 wiring: compose files are valid per the compose spec and every secret the bot needs is mounted."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deploy_support import COMPOSE_FILES, DEPLOY, PROM, load_yaml

from bot.config.secrets import SECRET_NAMES

COMPOSE = DEPLOY / "docker-compose.yml"
STACK = DEPLOY / "docker-stack.yml"
_INTERP = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose variable interpolation with every variable unset: ${X:-default} -> default."""
    return _INTERP.sub(lambda m: m.group(2) or "", value).replace("$$", "$")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): interpolate(str(v)) for k, v in env.items()}


def mounted_secrets(service: dict[str, Any]) -> dict[str, str]:
    """Secret source name -> path inside the container."""
    out = {}
    for item in service.get("secrets") or []:
        if isinstance(item, str):
            out[item] = f"/run/secrets/{item}"
        else:
            target = item.get("target", item["source"])
            out[item["source"]] = target if target.startswith("/") else f"/run/secrets/{target}"
    return out


def bot_services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services running our image (the bot), by name."""
    return {name: svc for name, svc in doc["services"].items()
            if "mm-rebate-bot" in str(svc.get("image", "")) or "MM_IMAGE" in str(svc.get("image", ""))}


def _duration_s(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text))


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_file_matches_the_compose_spec_schema(path: Path) -> None:
    res = _check_jsonschema(path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_schema_check_rejects_an_invalid_compose_file(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yml"
    bad.write_text("services:\n  bot:\n    image: x\n    stop_grace_periodd: 30s\n", encoding="utf-8")
    res = _check_jsonschema(bad)
    assert res.returncode != 0, "the schema check passed a misspelt key: it is not validating"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_secret_a_service_names_is_defined(path: Path) -> None:
    doc = load_yaml(path)
    defined = set(doc.get("secrets") or {})
    for name, svc in doc["services"].items():
        missing = set(mounted_secrets(svc)) - defined
        assert not missing, f"{path.name}: service {name} names undefined secrets {sorted(missing)}"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_bot_gets_every_config_secret_as_a_file_under_run_secrets(path: Path) -> None:
    doc = load_yaml(path)
    bots = bot_services(doc)
    assert bots, f"{path.name}: no bot service found"
    for name, svc in bots.items():
        env = environment(svc)
        mounts = mounted_secrets(svc)
        for secret in SECRET_NAMES:
            file_var = f"{secret}_FILE"
            assert file_var in env, f"{path.name}:{name}: {file_var} not set"
            assert env[file_var].startswith("/run/secrets/"), f"{path.name}:{name}: {file_var}={env[file_var]}"
            assert env[file_var] in mounts.values(), (
                f"{path.name}:{name}: {file_var} points at {env[file_var]}, which no mounted secret provides")
            assert secret not in env, f"{path.name}:{name}: plain {secret} in the environment (use the file)"


def test_local_compose_uses_file_secrets_that_mmctl_provisions() -> None:
    doc = load_yaml(COMPOSE)
    for name, spec in doc["secrets"].items():
        assert "file" in spec and not spec.get("external"), name
        assert (COMPOSE.parent / spec["file"]).resolve().parent == (DEPLOY.parent / "secrets").resolve(), (
            f"{name}: expected under ./secrets (where `mmctl secrets provision --dir ./secrets` writes)")
        assert Path(spec["file"]).name == name


def test_swarm_stack_uses_external_secrets_with_the_names_mmctl_creates() -> None:
    doc = load_yaml(STACK)
    for secret in SECRET_NAMES:
        spec = doc["secrets"][secret.lower()]  # `mmctl secrets provision --docker` creates the lowercase name
        assert spec == {"external": True}, (secret, spec)
    for name, svc in bot_services(doc).items():
        for item in svc["secrets"]:
            assert isinstance(item, dict) and str(item.get("uid")) == "10001" and item.get("mode") == 0o400, (
                f"{name}: swarm secrets should be owned by the image's uid 10001, mode 0400")


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_bot_service_shuts_down_gracefully_under_an_init(path: Path) -> None:
    for name, svc in bot_services(load_yaml(path)).items():
        assert svc.get("init") is True, f"{name}: init: true (PID 1 signal handling)"
        assert _duration_s(str(svc.get("stop_grace_period", ""))) >= 30, f"{name}: stop_grace_period >= 30s"
        assert svc.get("stop_signal", "SIGTERM") == "SIGTERM"
        assert environment(svc).get("MM_MONITORING__WEB_HOST") == "0.0.0.0", name


def test_local_compose_publishes_ports_on_loopback_only() -> None:
    for name, svc in load_yaml(COMPOSE)["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is reachable from other hosts"


def test_prometheus_mounts_its_config_and_the_rules() -> None:
    prom = load_yaml(COMPOSE)["services"]["prometheus"]
    mounts = {v.split(":")[1]: (COMPOSE.parent / v.split(":")[0]).resolve()
              for v in prom["volumes"] if v.startswith(".")}
    assert mounts["/etc/prometheus/prometheus.yml"] == (PROM / "prometheus.yml").resolve()
    assert mounts["/etc/prometheus/rules"] == (PROM / "rules").resolve()
    stack = load_yaml(STACK)
    for name, spec in stack["configs"].items():
        assert (STACK.parent / spec["file"]).is_file(), name


def test_grafana_is_optional_and_provisioned() -> None:
    graf = load_yaml(COMPOSE)["services"]["grafana"]
    assert graf.get("profiles") == ["dashboards"]
    for volume in graf["volumes"]:
        src = volume.split(":")[0]
        if src.startswith("."):
            assert (COMPOSE.parent / src).is_dir(), volume


def test_swarm_shards_do_not_overlap_and_are_all_scraped() -> None:
    from bot.config.loader import parse_value

    bots = bot_services(load_yaml(STACK))
    assert len(bots) >= 2
    symbols: list[str] = []
    prefixes = []
    for svc in bots.values():
        env = environment(svc)
        symbols.extend(parse_value(env["MM_SYMBOLS"]))
        prefixes.append(env["MM_ORDER_LINK_PREFIX"])
    assert len(symbols) == len(set(symbols)), f"a symbol is quoted by two shards: {symbols}"
    assert len(prefixes) == len(set(prefixes)), f"shards share an orderLinkId prefix: {prefixes}"
    prom = load_yaml(PROM / "prometheus-swarm.yml")
    [job] = [j for j in prom["scrape_configs"] if j["job_name"] == "mm-bot"]
    names = {n for sd in job["dns_sd_configs"] for n in sd["names"]}
    assert names == {f"tasks.{name}" for name in bots}


@pytest.fixture
def restore_redactor() -> Iterator[None]:
    """load_config registers the secrets it loads with the process-wide log redactor: undo that."""
    from bot.observability import logging as bot_logging

    saved = list(bot_logging._REDACTOR._secrets)
    try:
        yield
    finally:
        bot_logging._REDACTOR.set_secrets(saved)


def _secret_files(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    out = dict(env)
    for secret in SECRET_NAMES:
        fake = tmp_path / secret.lower()
        # Random values: pieces of a word like "bybit_api_key" would be masked in later tests' logs.
        fake.write_text(f"{secrets.token_hex(16)}\n", encoding="utf-8")
        fake.chmod(0o600)
        out[f"{secret}_FILE"] = str(fake)
    return out


def dockerfile_env() -> dict[str, str]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    return env


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
@pytest.mark.usefixtures("restore_redactor")
def test_bot_environment_loads_with_the_real_config_loader(path: Path, tmp_path: Path) -> None:
    """Every MM_* variable in the image and the compose file is a real config key with a valid value."""
    from bot.config import load_config

    for name, svc in bot_services(load_yaml(path)).items():
        env = {k: v for k, v in dockerfile_env().items() if k.startswith(("MM_", "BYBIT_"))}
        env.update(environment(svc))
        cfg = load_config(env=_secret_files(tmp_path, env))
        assert cfg.monitoring.web_host == "0.0.0.0", name
        assert cfg.venue != "mainnet", f"{name}: the shipped files must not default to mainnet"
        assert cfg.secrets.bybit_api_key is not None and cfg.secrets.admin_token is not None
