"""Settings: documented defaults, fail fast on a missing production secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from repairqc.config import DEFAULTS, load_config


def test_production_requires_a_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        load_config(str(tmp_path), {"REPAIRQC_ENV": "production"})


def test_environment_overrides_defaults_with_types(tmp_path, monkeypatch):
    monkeypatch.setenv("MAIL_PORT", "2525")
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "false")
    config = load_config(str(tmp_path), {"REPAIRQC_ENV": "testing"})
    assert config["MAIL_PORT"] == 2525
    assert config["SESSION_COOKIE_SECURE"] is False
    assert config["DATABASE_URL"].startswith("sqlite:///")


def test_development_key_survives_restarts(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_config(str(tmp_path), {"REPAIRQC_ENV": "development"})["SECRET_KEY"]
    assert load_config(str(tmp_path), {"REPAIRQC_ENV": "development"})["SECRET_KEY"] == first


def test_env_example_documents_every_setting():
    text = (Path(__file__).parents[1] / ".env.example").read_text()
    for key in DEFAULTS:
        assert f"\n{key}=" in text, key


def test_unknown_environment_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="REPAIRQC_ENV"):
        load_config(str(tmp_path), {"REPAIRQC_ENV": "staging"})
