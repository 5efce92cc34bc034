"""The baseline for the public form's benchmark: `python -m benchmarks.bare_route DATABASE_URL PORT`.

A bare FastAPI application with one route that reads the same form fields as the idea form and
commits one row to the same database through the same engine settings (`storage.db.make_engine`:
WAL, `BEGIN IMMEDIATE`, busy timeout), served by uvicorn in one process as `ideaflow web` is. Whatever
the web stack and the database cost per request is in this figure; the rest of the idea form's cost
is ideaflow's. Prints `bare route: http://127.0.0.1:PORT/` once it accepts requests.
"""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse

from storage.db import make_engine

METADATA = MetaData()
ROWS = Table("bench_bare_rows", METADATA, Column("id", Integer, primary_key=True), Column("title", Text),
             Column("description", Text), Column("name", Text), Column("email", Text))


def create_app(url: str, port: int) -> FastAPI:
    engine = make_engine(url)
    METADATA.create_all(engine)

    @asynccontextmanager
    async def announced(_app: FastAPI):
        print(f"bare route: http://127.0.0.1:{port}/", flush=True)
        yield

    app = FastAPI(lifespan=announced)

    def store(values: dict) -> None:
        with engine.begin() as connection:
            connection.execute(insert(ROWS).values(**values))

    @app.post("/rows")
    async def add_row(request: Request) -> PlainTextResponse:
        form = await request.form()
        await run_in_threadpool(store, {name: str(form.get(name, "")) for name in ("title", "description", "name",
                                                                                     "email")})
        return PlainTextResponse("stored")

    return app


if __name__ == "__main__":
    database_url, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(create_app(database_url, port), host="127.0.0.1", port=port, log_level="warning")
