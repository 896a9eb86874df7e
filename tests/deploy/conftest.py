"""The model the deployment tests run: the committed default, as `docker compose up` would."""

from pathlib import Path

import pytest

from onboard.config import ModelSection


@pytest.fixture(scope="session")
def model_dir_for_deploy() -> Path:
    path = ModelSection().dir
    assert (path / "manifest.json").exists(), f"the committed default model is missing at {path}"
    return path
