"""Import the modules whose routes live on the API blueprint."""

from hub.accounts import api as accounts_api  # noqa: F401
from hub.api import openapi  # noqa: F401
from hub.auditlog import proofs_api  # noqa: F401
from hub.cases import api as cases_api  # noqa: F401
from hub.cases import casework_api  # noqa: F401
from hub.dpo import api as audit_api  # noqa: F401
