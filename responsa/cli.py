"""`responsa serve` (parse arguments, build Settings, run uvicorn) and `responsa keys`
(API keys in the configured database)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time

from responsa.config import ConfigError, Settings, configure_logging, load_settings


def _at_least_one(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="responsa", description="The OpenAI Responses API over any Chat-Completions backend."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8321)
    serve.add_argument("--config", help="YAML config file (default: $RESPONSA_CONFIG)")
    serve.add_argument(
        "--workers", type=_at_least_one, default=1, help="server processes sharing the port (default 1)"
    )
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve a non-loopback address without API keys or OIDC (anyone who reaches it can use it)",
    )
    keys = commands.add_parser("keys", help="API keys in the configured database")
    keys.add_argument("--config", help="YAML config file (default: $RESPONSA_CONFIG)")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a key and print it (once)")
    create.add_argument("--name", default="key", help="a label for the key")
    create.add_argument("--owner", help="the owner its objects belong to (default: the key's own id)")
    create.add_argument("--admin", action="store_true", help="may read every owner's objects")
    actions.add_parser("list", help="the keys, without their secrets")
    revoke = actions.add_parser("revoke", help="revoke a key at once, on every replica")
    revoke.add_argument("key_id")
    return parser


async def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from responsa.auth.keys import create
    from responsa.store.sql import SqlStore

    store = SqlStore(settings.db_url)
    await store.start()
    try:
        if args.action == "create":
            key, record = await create(store, args.name, args.owner, args.admin)
            print(key)
            print(f"id {record.id}, owner {record.owner}{', admin' if record.admin else ''}", file=sys.stderr)
            print(
                "The key is shown only now; restart a server that ran open to turn authentication on.",
                file=sys.stderr,
            )
        elif args.action == "list":
            for k in await store.list_api_keys():
                state = "revoked" if k.revoked_at is not None else "active"
                print(f"{k.id}\t{k.name}\towner={k.owner}\t{'admin' if k.admin else 'user'}\t{state}")
        elif not await store.revoke_api_key(args.key_id, int(time.time())):
            print(f"responsa: no active key {args.key_id!r}", file=sys.stderr)
            return 1
        return 0
    finally:
        await store.close()


async def _auth_configured(settings: Settings) -> bool:
    from responsa.auth.guard import authentication_on
    from responsa.store.sql import SqlStore

    if settings.oidc is not None:  # no need to open the database to know
        return True
    store = SqlStore(settings.db_url)
    await store.start()
    try:
        return await authentication_on(settings, store)
    finally:
        await store.close()


def _split_local_threads(settings: Settings, workers: int) -> None:
    """Each worker loads its own copy of the local model: the local threads are shared out
    (RESPONSA_LOCAL_THREADS, read by every worker), since more threads than cores make
    llama.cpp's threads spin against each other and every generation several times slower."""
    if not any(p.type == "llama_cpp" for p in settings.providers.values()):
        return
    log = logging.getLogger("responsa")
    each = max(1, settings.local_threads // workers)
    os.environ["RESPONSA_LOCAL_THREADS"] = str(each)
    log.info(
        "%d workers each load the local model (about 300 MB each) with %d of the %d local threads",
        workers,
        each,
        settings.local_threads,
    )
    cores = os.cpu_count() or 1
    if each * workers > max(settings.local_threads, cores):
        log.warning(
            "%d workers with the local model need %d threads, more than the %d local threads and "
            "%d cores: generations running at once in different workers will slow each other "
            "down; use --workers %d or fewer, or raise RESPONSA_LOCAL_THREADS if there are cores",
            workers,
            each * workers,
            settings.local_threads,
            cores,
            max(settings.local_threads, cores),
        )


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"responsa: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.command == "keys":
        raise SystemExit(asyncio.run(_keys(settings, args)))
    from responsa.auth.guard import is_loopback

    if (
        not is_loopback(args.host)
        and not args.insecure_no_auth
        and not asyncio.run(_auth_configured(settings))
    ):
        print(
            f"responsa: refusing to serve {args.host} without authentication: create a key "
            "(`responsa keys create`), configure auth.oidc, or pass --insecure-no-auth",
            file=sys.stderr,
        )
        raise SystemExit(2)
    os.environ["RESPONSA_BIND_HOST"] = args.host  # the Host check's default, in every worker
    settings = settings.model_copy(update={"bind_host": args.host})

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
        _split_local_threads(settings, args.workers)
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
