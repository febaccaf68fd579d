"""What m3mail did, per adviser: ``status`` (counts and follow-ups), the HTML report with a chart, the CSV."""

from m3mail.report.status import AdviserStatus, FollowUpRow, adviser_statuses, follow_up_rows, in_window

__all__ = ["AdviserStatus", "FollowUpRow", "adviser_statuses", "follow_up_rows", "in_window"]
