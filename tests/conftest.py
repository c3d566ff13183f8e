"""Every test runs with its own progress store: nothing reads or writes the user's."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _own_tutor_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path_factory.mktemp("tutor-home")))
