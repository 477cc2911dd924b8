"""docs/scaling.md and docs/runbooks.md name only config keys, commands and files that exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from deploy_support import DEPLOY, ROOT

from bot.config.base import AppConfig

DOCS = [ROOT / "docs" / "scaling.md", ROOT / "docs" / "runbooks.md"]
FILES = [*DOCS, *DEPLOY.glob("*.yml"), DEPLOY / "Dockerfile", DEPLOY / "README.md"]
# MM_* variables that are not config keys: secrets, the config path, and deploy-time knobs.
NOT_CONFIG = {"MM_CONFIG", "MM_ADMIN_TOKEN", "MM_ADMIN_TOKEN_FILE", "MM_UID", "MM_IMAGE", "MM_IMAGE_TAG",
              "MM_ADMIN_URL", "MM_HEALTHCHECK_URL", "MM_HEALTHCHECK_TIMEOUT_S", "MM_ALLOW_NO_PROMTOOL",
              "MM_TEST_HOOKS"}


def config_key_exists(keys: list[str], model: Any = AppConfig) -> bool:
    field = model.model_fields.get(keys[0])
    if field is None:
        return False
    if len(keys) == 1:
        return True
    sub = field.annotation
    return hasattr(sub, "model_fields") and config_key_exists(keys[1:], sub)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_mm_variable_named_is_a_config_key(path: Path) -> None:
    names = set(re.findall(r"\b(MM_[A-Z0-9_]+[A-Z0-9])\b", path.read_text(encoding="utf-8"))) - NOT_CONFIG
    bad = [n for n in sorted(names) if not config_key_exists(n[3:].lower().split("__"))]
    assert not bad, f"{path.name} names config variables that the loader would reject: {bad}"


def test_config_key_check_rejects_a_typo() -> None:
    assert config_key_exists(["monitoring", "web_host"])
    assert not config_key_exists(["monitoring", "webhost"])
    assert not config_key_exists(["symbol"])


@pytest.mark.parametrize("path", [*DOCS, DEPLOY / "README.md"], ids=lambda p: p.name)
def test_repository_paths_named_in_docs_exist(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:deploy|docs|tests)/[\w./-]+?)`", text))
    missing = [p for p in sorted(paths) if not (ROOT / p.rstrip("/")).exists()]
    assert not missing, missing


def test_runbooks_use_only_existing_admin_actions() -> None:
    from bot.runtime.admin_api import ADMIN_ACTIONS

    text = (ROOT / "docs" / "runbooks.md").read_text(encoding="utf-8")
    used = set(re.findall(r"\badmin[ `]+([a-z][a-z-]+)", text)) - {"api", "token", "action", "actions"}
    assert used and used <= set(ADMIN_ACTIONS), sorted(used - set(ADMIN_ACTIONS))


@pytest.mark.parametrize("path", [*DOCS, DEPLOY / "README.md"], ids=lambda p: p.name)
def test_yaml_examples_in_docs_parse(path: Path) -> None:
    import yaml

    blocks = re.findall(r"```yaml\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    for block in blocks:
        assert yaml.safe_load(block) is not None


def test_container_admin_client_knows_every_admin_action() -> None:
    import importlib.util

    from bot.runtime.admin_api import ADMIN_ACTIONS

    spec = importlib.util.spec_from_file_location("admin_client", ROOT / "deploy" / "admin_client.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert set(mod.ACTIONS) == set(ADMIN_ACTIONS)
