"""The attribution app's domain errors (see cdp.errors): services and selectors raise
them, the API's one handler answers 400 naming the field, pages show them beside their
filter, commands print them."""

from cdp.errors import InvalidField, OmnitrailError


class UnknownGoal(OmnitrailError, LookupError):
    """No conversion goal has this key."""

    code = "unknown_goal"


class UnknownModel(InvalidField):
    """A model that is not one of attribution.engine.models.MODELS, or not in the run."""

    code = "unknown_model"


class NoCompletedRun(OmnitrailError, LookupError):
    """The goal has no completed attribution run to report on yet."""

    code = "no_run"


class NoMonthlyFigures(OmnitrailError, LookupError):
    """The run was made before runs kept monthly figures."""

    code = "no_monthly_figures"


class InvalidCost(InvalidField):
    """A cost line the cost table cannot take (the field names its column)."""


class InvalidGuardrail(InvalidField):
    """A guardrail that is not a share from 0 to 1."""

    code = "invalid_guardrail"


class NothingToAdvise(OmnitrailError):
    """Costs are recorded, but no channel spent anything: no curve to advise on."""

    code = "no_spend"
