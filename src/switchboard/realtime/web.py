"""The browser SDK and the demo page, served as static files.

`/` is the demo page (web/app/index.html), `/app/` its scripts and `/sdk/` the
browser SDK's ES modules; the page talks to the same origin it came from.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles


def web_root() -> Path | None:
    """The folder holding sdk/ and app/: packaged beside the code, or the checkout's."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "web", package.parents[1] / "web"):
        if (candidate / "app" / "index.html").is_file():
            return candidate
    return None


def mount_web(app: FastAPI) -> None:
    """Serve the demo page at / and the SDK under /sdk/, when the files are there."""
    root = web_root()
    if root is None:
        return
    index = root / "app" / "index.html"
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def page() -> FileResponse:
        return FileResponse(index, media_type="text/html; charset=utf-8")

    app.include_router(router)
    app.mount("/app", StaticFiles(directory=root / "app"), name="web-app")
    app.mount("/sdk", StaticFiles(directory=root / "sdk"), name="web-sdk")
