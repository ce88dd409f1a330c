"""The HTTP face of the service: a FastAPI application over a :class:`Service`.

Routes: ``GET /health``, ``GET /v1/rules``, ``POST /v1/check`` (one claim),
``POST /v1/check/batch`` (many, checked together), the OpenAPI page at ``/docs``.
A bearer token, when the environment variable named by ``auth.token_env`` holds one, guards
the ``/v1`` routes. A malformed body is answered 422 with each field at fault and what the
contract expects there; a body over the size cap 413; any fault of the service 500 with an
id to find it in the log, never a traceback.
"""

from __future__ import annotations

import hmac
import logging
import os
import uuid
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import fraudml
from fraudml.service.schema import (
    BatchRequest,
    BatchResult,
    CheckRequest,
    CheckResult,
    ProblemAnswer,
    Stage,
    describe_location,
)
from fraudml.service.service import RequestProblem, Service

log = logging.getLogger(__name__)

DESCRIPTION = """\
The rule base (conf/rules/*.yaml) as a service, for 事前提醒 (reminders in the doctor's
workstation) and 事中审核 (a hold before settlement). Send a claim with its fee lines in
the data contract's field names; the answer lists the rule hits and a decision: `pass`,
`remind`, `review` or `reject` (with reason `suspended` when the provider is suspended,
熔断). The same rules give the same hits as `make rules`.
"""


#: The bearer token of a request, when it sends one.
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))]


def _json(content: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status)


class BodyLimit:
    """Bodies over ``limit`` bytes are refused with 413: at once when Content-Length says
    so, else as soon as the part read passes the limit (a chunked upload)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _refusal(self) -> str:
        return f"the body is larger than {self.limit:,} bytes (limits.max_body_bytes)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _json({"error": self._refusal()}, 413)(scope, receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, self._refusal())
            return message

        await self.app(scope, counted, send)


def create_app(service: Service) -> FastAPI:
    """The application; the token is read from the environment here, once."""
    settings = service.settings
    token = os.environ.get(settings.token_env) or None
    app = FastAPI(
        title="fraudml checks",
        version=fraudml.__version__,
        description=DESCRIPTION,
    )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.state.service = service

    def authorised(credentials: Credentials) -> None:
        if token is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                401,
                "a bearer token is required (Authorization: Bearer …)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    guarded = [Depends(authorised)]
    problems = {422: {"model": ProblemAnswer, "description": "the request cannot be checked"}}

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        found = []
        for err in exc.errors():
            field, expected = describe_location(err.get("loc", ()))
            if err.get("type") == "json_invalid":
                field, expected = "body", "a JSON object"
                problem = f"not valid JSON ({err.get('ctx', {}).get('error', 'unreadable')})"
            else:
                problem = str(err.get("msg", "invalid"))
            found.append({"field": field, "problem": problem, "expected": expected or problem})
        return _json({"error": "invalid request", "problems": found}, 422)

    @app.exception_handler(RequestProblem)
    async def unusable(request: Request, exc: RequestProblem) -> Response:
        return _json({"error": "invalid request", "problems": exc.problems}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = _json({"error": str(exc.detail)}, exc.status_code)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(Exception)
    async def fault(request: Request, exc: Exception) -> Response:
        ref = uuid.uuid4().hex[:12]
        log.error(
            "request %s %s failed (error id %s)",
            request.method,
            request.url.path,
            ref,
            exc_info=exc,
        )
        return _json({"error": "internal error", "id": ref}, 500)

    @app.get("/health", summary="Whether the service runs, and what it knows")
    def health() -> dict[str, Any]:
        return service.health()

    @app.get("/v1/rules", dependencies=guarded, summary="The rules served, and those not")
    def rules() -> dict[str, Any]:
        return service.rule_list()

    @app.post(
        "/v1/check",
        dependencies=guarded,
        response_model=CheckResult,
        responses=problems,
        summary="Check one claim with its fee lines",
    )
    def check(
        request: CheckRequest,
        stage: Annotated[
            Stage | None, Query(description="事前 pre / 事中 in / 事后 post; default: serve.stage")
        ] = None,
    ) -> Response:
        (answer,) = service.check([request], stage)
        return _json(answer)

    @app.post(
        "/v1/check/batch",
        dependencies=guarded,
        response_model=BatchResult,
        responses=problems,
        summary="Check many claims together (each sees the others, as in a batch run)",
    )
    def check_batch(
        request: BatchRequest,
        stage: Annotated[Stage | None, Query(description="as for /v1/check")] = None,
    ) -> Response:
        if len(request.claims) > settings.max_batch_claims:
            raise RequestProblem(
                [
                    {
                        "field": "claims",
                        "problem": f"{len(request.claims):,} claims",
                        "expected": f"at most {settings.max_batch_claims:,} claims per batch "
                        "(limits.max_batch_claims)",
                    }
                ]
            )
        answers = service.check(request.claims, stage)
        return _json({"results": answers, "rule_base": service.rule_base})

    return app
