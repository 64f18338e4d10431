"""Dev-only test support for the churn platform's test suites and benchmarks."""

from churn_testing.bundles import quick_bundle
from churn_testing.process import ServerExited, ServerNotReady, ServerProcess, free_port

__all__ = ["ServerExited", "ServerNotReady", "ServerProcess", "free_port", "quick_bundle"]
