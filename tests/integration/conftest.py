"""Shared pytest fixtures: one running mailportd per test module.

A module may set EXTRA_MAIN (a dict of main.cf parameters) and
EXTRA_SERVICES (a list of (name, smtpd arguments) for more master.cf
lines) to adjust the standard test configuration.
"""

import sys
import pathlib

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import harness  # noqa: E402


@pytest.fixture(scope="module")
def server(request):
    instance = harness.MailServer(
        extra_main=getattr(request.module, "EXTRA_MAIN", None),
        extra_services=getattr(request.module, "EXTRA_SERVICES", None),
    )
    try:
        instance.start()
        yield instance
    finally:
        instance.cleanup()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Attach the daemon log to every failed test, because the failing
    # assertion rarely shows why the server did what it did.
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        instance = item.funcargs.get("server")
        if instance is not None:
            report.sections.append(("mailportd log", instance.log()[-20000:]))
