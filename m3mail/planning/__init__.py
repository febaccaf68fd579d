"""Planning: business days, public holidays, the client's zone, complaint deadlines, email sending hours
(``calendar``) and the call planner that finds each M+3 call a free slot (``slots``).

Pure code: no I/O and no clock. Callers turn the settings into ``AdviserRules`` and pass ``now``/``today``.
"""

from m3mail.planning.calendar import (
    add_business_days,
    client_subdivision,
    client_timezone,
    complaint_deadlines,
    is_business_day,
    is_public_holiday,
    may_send_email,
    next_sending_time,
    to_utc,
    wall_time,
)
from m3mail.planning.slots import AdviserRules, Booking, CallRequest, Shortage, plan_calls

__all__ = [
    "AdviserRules",
    "Booking",
    "CallRequest",
    "Shortage",
    "add_business_days",
    "client_subdivision",
    "client_timezone",
    "complaint_deadlines",
    "is_business_day",
    "is_public_holiday",
    "may_send_email",
    "next_sending_time",
    "plan_calls",
    "to_utc",
    "wall_time",
]
