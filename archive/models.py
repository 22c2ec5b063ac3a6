"""The audit log: an append-only, hash-chained record of every write.

Rows are written only by `archive.audit.record()`, inside the transaction of
the change they describe. Database triggers refuse UPDATE and DELETE.
"""
from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    seq = models.PositiveBigIntegerField(unique=True, help_text="Position in the chain, from 1 without gaps.")
    at = models.DateTimeField(help_text="When the change was committed (UTC).")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who acted; empty for the system itself (migrations, scheduled checks).",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=255, blank=True)
    scope = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="What history page the event belongs to, e.g. incident:12.",
    )
    changes = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        constraints = [models.CheckConstraint(condition=models.Q(seq__gte=1), name="auditevent_seq_positive")]
        # The admin's filters list the actions and target types there are, read from these (archive.admin).
        indexes = [models.Index(fields=["action"], name="auditevent_action"),
                   models.Index(fields=["target_type"], name="auditevent_target_type")]

    def __str__(self):
        return f"#{self.seq} {self.action} {self.target_type}:{self.target_id} by {self.actor_name or 'system'}"


class LoginFailure(models.Model):
    """A failed sign-in, kept for the throttling window only (archive.throttle).

    Not an audit entry: a password-guessing run would otherwise flood the
    hash-chained log and serialise every worker on its lock. The log records
    each lockout instead ("auth.login_throttled").
    """

    username = models.CharField(max_length=150, help_text="As typed, case-folded; may name no account.")
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["username", "at"], name="loginfailure_username_at"),
            models.Index(fields=["ip", "at"], name="loginfailure_ip_at"),
        ]

    def __str__(self):
        return f"Failed sign-in as {self.username!r} from {self.ip or 'an unknown address'} at {self.at:%Y-%m-%d %H:%M:%S}"
