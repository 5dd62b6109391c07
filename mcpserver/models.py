"""The audit trail of capability use, and the admins' overrides of each tool's policy."""

from __future__ import annotations

from django.db import models


class ToolPolicyQuerySet(models.QuerySet):
    def overrides(self) -> dict[str, ToolPolicy]:
        return {policy.name: policy for policy in self}


class ToolPolicy(models.Model):
    """An admin's override of one tool: switch it off, or replace the scopes or roles it needs."""

    name = models.CharField("tool name", max_length=128, unique=True)
    enabled = models.BooleanField(default=True, help_text="A disabled tool is neither listed nor callable.")
    scopes = models.CharField(  # noqa: DJ001  (NULL keeps the tool's own; "" would require none)
        max_length=500,
        null=True,
        blank=True,
        help_text="Space-separated scopes needed besides mcp:tools; empty keeps the tool's own.",
    )
    roles = models.CharField(  # noqa: DJ001  (NULL keeps the tool's own)
        max_length=500,
        null=True,
        blank=True,
        help_text="Space-separated roles, any one of which may use it; empty keeps the tool's own.",
    )
    updated = models.DateTimeField(auto_now=True)

    objects = ToolPolicyQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "tool policy"
        verbose_name_plural = "tool policies"

    def __str__(self) -> str:
        return self.name

    def scope_list(self) -> tuple[str, ...] | None:
        return None if self.scopes is None else tuple(self.scopes.split())

    def role_list(self) -> tuple[str, ...] | None:
        return None if self.roles is None else tuple(self.roles.split())


class InsertionOrderIndex(models.Index):
    """An index on a column whose values grow with the table's insertion order (an append-only log's
    timestamp): BRIN on PostgreSQL, B-tree elsewhere.

    A BRIN index keeps a value range per block range, a few pages for millions of rows, and adds
    next to nothing to an insert; a B-tree is another tree to update on every row, work the database
    does for each record the audit writer copies in. Range filters (date drill-down, retention) use
    either. ``autosummarize`` has autovacuum summarise each block range as it fills; until then a
    range is read, not skipped.
    """

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return super().create_sql(model, schema_editor, using=using, **kwargs)
        statement = super().create_sql(model, schema_editor, using=" USING brin", **kwargs)
        statement.parts["extra"] = " WITH (autosummarize = on)" + statement.parts["extra"]
        return statement


class AuditRecordQuerySet(models.QuerySet):
    def for_subject(self, subject: str) -> AuditRecordQuerySet:
        return self.filter(subject=subject)

    def failures(self) -> AuditRecordQuerySet:
        """Uses that did not succeed (an input-required round is a step of one that goes on)."""
        going_on = [AuditRecord.Outcome.OK, AuditRecord.Outcome.INPUT_REQUIRED, AuditRecord.Outcome.TASK]
        return self.exclude(outcome__in=going_on)

    def older_than(self, cutoff) -> AuditRecordQuerySet:
        return self.filter(created__lt=cutoff)

    def prune(self, cutoff, batch: int = 10_000) -> int:
        """Delete the records created before ``cutoff`` in batches (short locks); return how many."""
        deleted = 0
        while ids := list(self.older_than(cutoff).order_by().values_list("id", flat=True)[:batch]):
            deleted += self.model.objects.filter(id__in=ids).delete()[0]
        return deleted


class AuditRecord(models.Model):
    """One tools/call, prompts/get or resources/read: who, through which client, what, outcome (and why,
    when denied or invalid), duration."""

    class Outcome(models.TextChoices):
        OK = "ok"
        ERROR = "error"
        INVALID = "invalid"
        CANCELLED = "cancelled"
        TIMEOUT = "timeout"
        DENIED = "denied"  # refused for a missing scope or role, or switched off by a policy
        INPUT_REQUIRED = "input_required"  # a 2026-07-28 round that asked the client; a retry goes on
        TASK = "task"  # answered with a task handle: the task's end is a record of kind "task"

    # No B-tree on the columns: every index is work on every insert, and the trail takes a row per
    # audited call (see InsertionOrderIndex); subject lookups are rare and the admin's search is a
    # substring match, which no B-tree serves.
    created = models.DateTimeField()
    subject = models.CharField(max_length=255)
    username = models.CharField(max_length=150, blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=20)
    name = models.CharField(max_length=500)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    duration_ms = models.FloatField()
    argument_bytes = models.PositiveIntegerField(default=0)
    argument_digest = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the canonical arguments."
    )
    protocol_version = models.CharField(max_length=20, blank=True)
    detail = models.CharField(
        max_length=500, blank=True, default="", help_text="Why the use was denied or invalid."
    )
    # Given when the record is made (empty on records older than it): replaying a killed process's
    # spool writes only the ids the table lacks, found among the rows of the records' time range
    # (the index on ``created``), so the id needs no index of its own.
    uuid = models.UUIDField(null=True, blank=True, editable=False, help_text="The record's own id.")

    objects = AuditRecordQuerySet.as_manager()

    class Meta:
        # Newest written first: the primary key read backwards, no sort. Records are written within
        # AUDIT_FLUSH_SECONDS of their creation, so this is their time order to within about that
        # (records kept through a database outage come in when it ends).
        ordering = ["-id"]
        indexes = [InsertionOrderIndex(fields=["created"], name="mcpserver_audit_created")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} by {self.subject}: {self.outcome}"


class McpTaskQuerySet(models.QuerySet):
    def owned_by(self, subject: str, client_id: str, issuer: str) -> McpTaskQuerySet:
        """The tasks one caller (user or client's own identity, through one client) started."""
        return self.filter(subject=subject, client_id=client_id, issuer=issuer)

    def live(self, now) -> McpTaskQuerySet:
        return self.filter(expires_at__gt=now)

    def expired(self, now) -> McpTaskQuerySet:
        return self.filter(expires_at__lte=now)


class McpTask(models.Model):
    """One ``tools/call`` answered with a task handle (the ``io.modelcontextprotocol/tasks`` extension):
    who started it, what it runs, where it is (``status``) and what it ended with. Kept until
    ``expires_at`` (``MCPSERVER["TASK_RETENTION_SECONDS"]`` after its last change), then deleted."""

    class Status(models.TextChoices):
        WORKING = "working"
        INPUT_REQUIRED = "input_required"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    TERMINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    id = models.CharField(primary_key=True, max_length=64, editable=False)
    # The caller, as the token that started the task named it: only the same subject through the same
    # client (of the same issuer) may see, update or cancel the task.
    subject = models.CharField(max_length=255)
    client_id = models.CharField(max_length=255)
    issuer = models.CharField(max_length=500)
    # What the worker needs to act as that caller: the token's claims (never the token) and its SHA-256,
    # so that revoking the token stops the task and hides it.
    caller = models.JSONField(default=dict)
    token_digest = models.CharField(max_length=64)
    tool = models.CharField(max_length=128)
    arguments = models.JSONField(default=dict)
    protocol_version = models.CharField(max_length=20)
    client_capabilities = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.WORKING)
    status_message = models.CharField(max_length=500, blank=True, default="")
    # The questions the task waits on (key -> request), and what the tool kept between runs: earlier
    # answers (key -> [question digest, answer]), the digests of the pending questions, the client's
    # responses not yet used, and ``ctx.state``.
    input_requests = models.JSONField(default=dict, blank=True)
    answers = models.JSONField(default=dict, blank=True)
    pending = models.JSONField(default=dict, blank=True)
    responses = models.JSONField(default=dict, blank=True)
    state = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    created = models.DateTimeField()
    updated = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    # When the run under way must have ended (set as a worker starts it, cleared by any status change):
    # a working task past it (and a grace) lost its run, its worker killed say, and is failed.
    run_deadline = models.DateTimeField(null=True, blank=True)

    objects = McpTaskQuerySet.as_manager()

    class Meta:
        verbose_name = "MCP task"
        indexes = [models.Index(fields=["subject", "client_id"], name="mcpserver_task_owner")]

    def __str__(self) -> str:
        return f"task {self.id} ({self.tool}, {self.status})"

    @property
    def terminal(self) -> bool:
        return self.status in self.TERMINAL
