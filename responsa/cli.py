"""`responsa serve`: parse arguments, build Settings, run uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from responsa.config import ConfigError, configure_logging, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="responsa", description="The OpenAI Responses API over any Chat-Completions backend."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8321)
    serve.add_argument("--config", help="YAML config file (default: $RESPONSA_CONFIG)")
    serve.add_argument("--workers", type=int, default=1, help="server processes sharing the port (default 1)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"responsa: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    import uvicorn

    from responsa.app import create_app

    configure_logging(settings.log_level)
    logging.getLogger("responsa").info(
        "serving on http://%s:%d (store %s, recording mode %s)",
        args.host,
        args.port,
        settings.db_url.split("@")[-1],
        settings.recording_mode,
    )
    if args.workers > 1:  # each worker process builds its own app from the same settings
        if args.config:
            os.environ["RESPONSA_CONFIG"] = str(args.config)
        uvicorn.run(
            "responsa.app:app_from_environment",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level=settings.log_level.lower(),
            access_log=False,
        )
        return
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
