"""Suite-wide fixtures."""
import pytest


@pytest.fixture(autouse=True, scope="session")
def _user_cache_in_tmp(tmp_path_factory):
    """Derived state that edgert keeps in the user's cache folder (dataset indexes) goes to a
    temporary folder during the tests, never into the home directory of whoever runs them
    (session scope: module-scoped fixtures that open datasets run after it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield
