"""The console with its baseline beside it: `python -m benchmarks.web_server DATABASE_URL PORT`.

ideaflow's own application (`web.app.create_app`, as `ideaflow web` serves it, by the same
`web.server.run`: one uvicorn process, its access log, every middleware) plus one bare FastAPI route,
`GET /bench/static`, that renders a static Jinja2 template and touches nothing else. Both answer from
the same process under the same load, so the difference between them is what ideaflow's pages cost:
the session lookup, the read models' queries, the page's rendering. Prints
`ideaflow web console: http://127.0.0.1:PORT/` once it accepts requests.
"""

from __future__ import annotations

import sys

from fastapi.responses import HTMLResponse
from jinja2 import Environment

from ideaflow.bootstrap import bootstrap
from ideaflow.config import Settings
from web.app import create_app
from web.server import run

STATIC = Environment(autoescape=True).from_string(
    "<!DOCTYPE html><html lang=\"da\"><head><meta charset=\"utf-8\"><title>{{ title }}</title></head>"
    "<body><main><h1>{{ title }}</h1><p>En statisk side.</p></main></body></html>")


def create(url: str, port: int):
    app = create_app(bootstrap(Settings(_env_file=None, database_url=url, public_url=f"http://127.0.0.1:{port}/")))

    @app.get("/bench/static")
    def static_page() -> HTMLResponse:
        return HTMLResponse(STATIC.render(title="Benchmark"))

    return app


if __name__ == "__main__":
    database_url, port = sys.argv[1], int(sys.argv[2])
    run(create(database_url, port), "127.0.0.1", port, lambda line: print(line, flush=True))
