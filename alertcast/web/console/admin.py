"""Supervision and administration, read-only: the approval policy in force, the users and the
intake's sources (their keys).

All of it is configuration (the policy file, the users file or variable, the sources file),
changed where the service is deployed, not in a browser: these pages show what this web
process loaded, so a supervisor or an administrator can check it. A policy file that does not
parse shows its problems instead.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from alertcast.approval.policy import parse_policy
from alertcast.models.decision import PolicyConfig
from alertcast.web.console.auth import Permission
from alertcast.web.console.guard import Area, Form, Who


class Admin(Area):
    def routes(self) -> list[BaseRoute]:
        g = self.guard
        return [
            g.get("/policy", Permission.POLICIES, self.policy),
            g.get("/admin", Permission.ADMIN, self.admin),
        ]

    async def policy(self, request: Request, who: Who, form: Form) -> Response:
        path = self.guard.config.policy_file
        parsed = None
        if path is not None and path.exists():
            parsed = parse_policy(path.read_text(encoding="utf-8"), str(path))
        return self.guard.page(
            "policy.html",
            who,
            path=path,
            config=parsed if isinstance(parsed, PolicyConfig) else None,
            problems=parsed if isinstance(parsed, list) else [],
        )

    async def admin(self, request: Request, who: Who, form: Form) -> Response:
        return self.guard.page(
            "admin.html", who, users=self.guard.users.all(), sources=self.guard.config.source_names
        )
