"""The ticket queue: filters that combine, kept in the URL, and a sort by what is due.

One service function for the admin queue and the agent's list, so a filter means the same
thing on both sides. ``QueueFilter.from_args`` reads the query string (unknown values fall
back to the default instead of failing: a stale bookmark still opens the queue).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlalchemy import Select, any_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from .lifecycle import OPEN_STATUSES
from .models import CHANNELS, PRIORITIES, STATUSES, Customer, Ticket
from .triage import CATEGORIES

PAGE_SIZE = 200  # tickets a queue page shows
MAX_PAGE = 1_000_000  # 200 million tickets deep; the offset stays far inside a 64-bit integer
SORTS = {
    "due": "SLA due first",
    "newest": "newest first",
    "oldest": "oldest first",
    "priority": "priority, then due",
}
SLA_FILTERS = {"ok": ("ok",), "at_risk": ("at_risk",), "breached": ("breached",), "breaching": ("at_risk", "breached")}


@dataclass(frozen=True)
class QueueFilter:
    status: str = "open"          # "open", "all" or one status
    priority: str = ""
    sla: str = ""                 # ok, at_risk, breached, breaching (at risk or breached)
    category: str = ""
    assignee: str = ""            # "", "none" (unassigned) or an agent's id
    channel: str = ""
    q: str = ""
    sort: str = "due"
    page: int = 1

    @classmethod
    def from_args(cls, args: Any, *, page: int = 1) -> "QueueFilter":
        def one_of(name: str, allowed: Any, default: str = "") -> str:
            value = (args.get(name) or "").strip()
            return value if value in allowed else default

        assignee = (args.get("assignee") or "").strip()
        if assignee != "none" and not (assignee.isascii() and assignee.isdigit() and len(assignee) < 10):
            assignee = ""
        return cls(status=one_of("status", {"open", "all", *STATUSES}, "open"),
                   priority=one_of("priority", PRIORITIES), sla=one_of("sla", SLA_FILTERS),
                   category=one_of("category", CATEGORIES), assignee=assignee,
                   channel=one_of("channel", CHANNELS), q=(args.get("q") or "").strip()[:200],
                   sort=one_of("sort", SORTS, "due"), page=max(page, 1))

    def url_args(self, **changes: Any) -> dict[str, Any]:
        """The non-default filters as query-string arguments (for links that keep them)."""
        values = asdict(replace(self, **changes))
        defaults = asdict(QueueFilter())
        return {k: v for k, v in values.items() if v != defaults[k]}

    @property
    def narrowed(self) -> bool:
        """Whether anything beyond the default view is asked for (the empty state offers to clear it)."""
        return bool(self.url_args(page=1, sort="due"))


def next_due():  # type: ignore[no-untyped-def]
    """The next SLA deadline of a ticket: the first response until there is one, then resolution."""
    return case((Ticket.first_response_at.is_(None), Ticket.first_response_due), else_=Ticket.resolution_due)


def priority_rank():  # type: ignore[no-untyped-def]
    """0 for urgent … 3 for low, with the values written into the SQL (not bound), so that it is
    the same expression as the one migration 0016 indexes on PostgreSQL."""
    return case(*[(Ticket.priority == literal_column(f"'{p}'"), literal_column(str(i)))
                  for i, p in enumerate(reversed(PRIORITIES))])


def _order(sort: str) -> list[Any]:
    due = next_due()
    if sort == "newest":
        return [Ticket.created_at.desc(), Ticket.id.desc()]
    if sort == "oldest":
        return [Ticket.created_at.asc(), Ticket.id.asc()]
    if sort == "priority":
        rank = priority_rank()
        return [rank.asc(), due.is_(None), due.asc(), Ticket.id.asc()]
    return [due.is_(None), due.asc(), Ticket.id.asc()]  # due: overdue and nearly-due first, no target last


def _search(session: Session, query: Select[Any], text: str) -> Select[Any]:
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    customers = select(Customer.id).where(or_(Customer.email.ilike(like, escape="\\"),
                                              Customer.name.ilike(like, escape="\\")))
    if session.get_bind().dialect.name == "postgresql":
        # "= ANY(ARRAY(…))" lets PostgreSQL OR three index scans (trigram indexes on number and
        # subject, customer_id) into one bitmap; "IN (subquery)" inside an OR filters every row
        by_customer = Ticket.customer_id == any_(func.array(customers.scalar_subquery()))
    else:
        by_customer = Ticket.customer_id.in_(customers)
    return query.where(or_(Ticket.number.ilike(like, escape="\\"), Ticket.subject.ilike(like, escape="\\"),
                           by_customer))


def page(session: Session, wanted: QueueFilter, *, assignee_id: int | None = None,
         size: int | None = None) -> tuple[list[Ticket], bool]:
    """One page of tickets and whether there is a next one. ``assignee_id`` pins the list to one
    agent (the agent console's own tickets) whatever the filter says."""
    size = size or PAGE_SIZE
    order = _order(wanted.sort)
    # the page's ids first, then those rows with their customer and assignee (a deep page
    # then skips ids in an index instead of joining every skipped row); one more than a page
    # tells whether there is a next page without counting every match
    query = select(Ticket.id).order_by(*order).limit(size + 1).offset((wanted.page - 1) * size)
    if wanted.status == "open":
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    elif wanted.status in STATUSES:
        query = query.where(Ticket.status == wanted.status)
    if wanted.priority:
        query = query.where(Ticket.priority == wanted.priority)
    if wanted.sla:
        query = query.where(Ticket.sla_state.in_(SLA_FILTERS[wanted.sla]))
    if wanted.category:
        query = query.where(Ticket.category == wanted.category)
    if wanted.channel:
        query = query.where(Ticket.channel == wanted.channel)
    if assignee_id is not None:
        query = query.where(Ticket.assignee_id == assignee_id)
    elif wanted.assignee == "none":
        query = query.where(Ticket.assignee_id.is_(None))
    elif wanted.assignee:
        query = query.where(Ticket.assignee_id == int(wanted.assignee))
    if wanted.q:
        query = _search(session, query, wanted.q)
    rows = session.scalars(select(Ticket).where(Ticket.id.in_(query.scalar_subquery()))
                           .order_by(*order)).unique().all()
    return list(rows[:size]), len(rows) > size
