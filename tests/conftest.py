"""Suite-wide fixtures."""
import pytest


@pytest.fixture(autouse=True)
def _user_cache_in_tmp(tmp_path_factory, monkeypatch):
    """Derived state that edgert keeps in the user's cache folder (dataset indexes) goes to a
    temporary folder during the tests, never into the home directory of whoever runs them."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
