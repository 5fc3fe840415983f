"""Signing in: the token pasted into the form lives only in an HttpOnly, SameSite=Strict cookie (never
in a URL); each request re-checks it against the shared token table, so a revoked token signs out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from shared.auth import Principal, authenticate

COOKIE = "qm_console"
DESK_ROLES = ("office", "district")  # the office pages; a district sees its own district


@dataclass(frozen=True)
class Session:
    principal: Principal
    token: str

    @property
    def role(self) -> str:
        return self.principal.role


class SignInNeeded(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""


class NotForRole(Exception):
    """Signed in, but this page is not for this role."""


def set_cookie(response: Response, token: str, secure: bool) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/", max_age=12 * 3600)


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


async def current(request: Request) -> Session:
    token = request.cookies.get(COOKIE)
    found = await authenticate(request.app.state.pool, token) if token else None
    if found is None:
        raise SignInNeeded
    return Session(found, token)  # type: ignore[arg-type]


async def desk(session: Annotated[Session, Depends(current)]) -> Session:
    if session.role not in DESK_ROLES:
        raise NotForRole
    return session


async def office(session: Annotated[Session, Depends(current)]) -> Session:
    if session.role != "office":
        raise NotForRole
    return session


async def unit(session: Annotated[Session, Depends(current)]) -> Session:
    if session.role != "unit":
        raise NotForRole
    return session


Signed = Annotated[Session, Depends(current)]
Desk = Annotated[Session, Depends(desk)]
Office = Annotated[Session, Depends(office)]
Unit = Annotated[Session, Depends(unit)]
