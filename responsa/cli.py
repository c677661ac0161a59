"""`responsa serve`: parse arguments, build Settings, run uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys

from responsa.config import ConfigError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="responsa", description="The OpenAI Responses API over any Chat-Completions backend."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8321)
    serve.add_argument("--config", help="YAML config file (default: $RESPONSA_CONFIG)")
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

    level = settings.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("responsa").info(
        "serving on http://%s:%d (store %s, recording mode %s)",
        args.host,
        args.port,
        settings.db_url.split("@")[-1],
        settings.recording_mode,
    )
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
