"""Interactive API docs at `/docs`, with Swagger UI served from an installed package, so the
page works where the servers have no internet (most shop and warehouse networks), and the
OpenAPI document's security: every operation that needs an API key says so."""

from __future__ import annotations

from typing import Any

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from naadloos.kit.auth import SECURITY_SCHEME, Require, authenticate

STATIC = "/docs/static"


def mount(app: FastAPI) -> None:
    app.mount(STATIC, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="naadloos API",
            swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC}/favicon-32x32.png",
        )


def _needs_a_key(route: APIRoute) -> bool:
    if getattr(route, "needs_a_key", False):  # a TransactionalRoute checks the key itself
        return True
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        if dependency.call is authenticate or isinstance(dependency.call, Require):
            return True
        stack.extend(dependency.dependencies)
    return False


def declare_security(app: FastAPI) -> None:
    """Add the API key scheme to the OpenAPI document and to each operation that needs a key
    (Swagger's Authorize button sends it). FastAPI would do this for a security dependency,
    solved on every request; the document is built once."""
    build = app.openapi
    declared = [route.path_format for route in app.routes if isinstance(route, APIRoute)]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        # The paths as declared, module by module (the app tries its routes in another order).
        paths = schema["paths"]
        schema["paths"] = {p: paths[p] for p in dict.fromkeys(declared) if p in paths}
        schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(
            SECURITY_SCHEME
        )
        for route in app.routes:
            if isinstance(route, APIRoute) and route.include_in_schema and _needs_a_key(route):
                for method in route.methods or ():
                    operation = schema["paths"][route.path_format][method.lower()]
                    operation["security"] = [{name: []} for name in SECURITY_SCHEME]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
