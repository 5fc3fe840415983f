"""The other services, reached only through their HTTP APIs with the signed-in person's own token."""
from __future__ import annotations

from typing import Any

import httpx


class BackendError(Exception):
    """A service answered with an error: its status and its contract-shaped issues."""

    def __init__(self, status: int, issues: list[dict]):
        super().__init__(f"{status}: {issues}")
        self.status, self.issues = status, issues


def _issues(answer: httpx.Response) -> list[dict]:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    found = body.get("issues") if isinstance(body, dict) else None
    return found or [{"code": "backend", "field": None, "message_zh": f"服务返回错误 {answer.status_code}。", "message_en": answer.text[:200]}]


class Backends:
    """One pooled HTTP client; each call carries the caller's bearer token."""

    def __init__(self, http: httpx.AsyncClient, urls: dict[str, str]):
        self.http, self.urls = http, urls

    async def call(self, method: str, service: str, path: str, token: str, *, ok: tuple[int, ...] = (200, 202), **kwargs: Any) -> httpx.Response:
        params = {k: v for k, v in (kwargs.pop("params", None) or {}).items() if v not in (None, "")}
        try:
            answer = await self.http.request(
                method, self.urls[service] + path, params=params, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
        except httpx.HTTPError as exc:
            raise BackendError(503, [{"code": "backend.unreachable", "field": None, "message_zh": f"暂时无法连接 {service} 服务，请稍后重试。", "message_en": str(exc)}]) from None
        if answer.status_code not in ok:
            raise BackendError(answer.status_code, _issues(answer))
        return answer

    async def get(self, service: str, path: str, token: str, **params: Any) -> Any:
        return (await self.call("GET", service, path, token, params=params)).json()
