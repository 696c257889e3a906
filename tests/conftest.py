"""Suite-wide fixtures and settings."""
import os

import pytest

try:
    from hypothesis import settings
except ImportError:     # the smoke tests run against an installed wheel with pytest alone
    settings = None

if settings is not None:
    # Property tests draw the same examples on every run (derandomize), so a green suite
    # stays green and CI never fails on an example no one can reproduce; exploring new
    # examples is a deliberate run: HYPOTHESIS_PROFILE=explore bash tools/run-tests.sh -k props
    settings.register_profile("repeatable", derandomize=True, database=None)
    settings.register_profile("explore")
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(autouse=True, scope="session")
def _user_cache_in_tmp(tmp_path_factory):
    """Derived state that edgert keeps in the user's cache folder (dataset indexes) goes to a
    temporary folder during the tests, never into the home directory of whoever runs them
    (session scope: module-scoped fixtures that open datasets run after it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield
