"""The admin console, one module per area; each route is thin and calls service functions.

- :mod:`.queue`: the ticket queue with its filters and the agents' workload
- :mod:`.ticket_page`: one ticket: assign, triage, problem link
- :mod:`.desk`: hand-offs, spam, merges, an absent agent's tickets (and ``act``, the one
  transaction-and-flash helper of the consoles)
- :mod:`.dashboard`, :mod:`.gaps`: the figures and the KB-gap report
- :mod:`.outbox`, :mod:`.mail_templates`, :mod:`.notifications`: e-mail
- :mod:`.privacy`: GDPR export and erasure
- :mod:`.canned`, :mod:`.settings`: canned responses and the desk's switches
- :mod:`.on_behalf`: tickets opened for a customer by phone
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

# the route modules register on bp when imported
from . import (canned, dashboard, desk, gaps, mail_templates, notifications, on_behalf, outbox,  # noqa: E402,F401
               privacy, queue, settings, ticket_page)
from .queue import COMPLETED_DAYS, workload  # noqa: E402,F401  (the workload table, as the tests read it)
