"""``manage.py prune_tasks``: delete MCP tasks whose retention (``MCP_TASK_RETENTION_SECONDS``) has ended."""

from django.core.management.base import BaseCommand

from mcpserver.tasks import store


class Command(BaseCommand):
    help = "Delete MCP tasks whose retention has ended (the task worker also does after each task)."

    def handle(self, *args, **options):
        self.stdout.write(f"Deleted {store.prune()} expired task(s).")
