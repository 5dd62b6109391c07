"""System checks for the management API's configuration."""

from django.core import checks

from .throttling import SCOPE, rate_problem


@checks.register(checks.Tags.security)
def check_rate_limit(app_configs, **kwargs):
    problem = rate_problem()
    if problem is None:
        return []
    return [
        checks.Error(
            f"The management API's rate (REST_FRAMEWORK DEFAULT_THROTTLE_RATES[{SCOPE!r}], "
            f"MANAGEMENT_API_RATE) is unusable: {problem}.",
            hint='Write it as e.g. "600/minute", or "off" for no limit.',
            id="management_api.E001",
        )
    ]
