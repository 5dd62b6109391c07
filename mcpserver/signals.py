"""Signals for other apps (metrics, alerting); the MCP server sends them and connects none itself."""

from django.dispatch import Signal

# Sent by audit.Trail once per capability use: kind ("tool", "prompt", "resource"), name, outcome (an
# AuditRecord.Outcome value: ok, error, invalid, cancelled, timeout, denied or input_required) and
# duration_ms.
capability_used = Signal(use_caching=True)  # sent on every call: receivers cached per sender
# Sent when /mcp refuses a request's credentials: error, an InvalidToken or InsufficientScope
# (sender: its class). Nothing of the token itself is passed.
access_refused = Signal()
# Sent when audit records were lost (the buffer was full while the database refused them): count.
audit_records_dropped = Signal()
