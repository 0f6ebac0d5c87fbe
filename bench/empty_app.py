"""The HTTP ceiling: an empty FastAPI endpoint served by uvicorn exactly as ``hallwatch``
serves its app (``uvicorn.run(app, host, port, log_level="warning")``).

``POST /v1/events`` reads the body as hallwatch's intake does, hands nothing to a thread
and answers a small JSON body with 201; ``GET /healthz`` answers 200.

Run: ``python bench/empty_app.py --port 8765``.
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/v1/events", status_code=201)
async def post_event(request: Request, response: Response) -> dict[str, object]:
    body = await request.body()
    return {"position": len(body), "created": True}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
