"""`responsa serve` (parse arguments, build Settings, run uvicorn), `responsa keys` (API keys in
the configured database), `responsa config show` and `responsa doctor` (`responsa/doctor.py`),
`responsa recordings` (`responsa/recording/manage.py`), `responsa import-ogx`
(`responsa/ogx_import.py`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from responsa.config import ConfigError, Settings, load_settings

log = logging.getLogger("responsa")


def _parser() -> argparse.ArgumentParser:
    from responsa.doctor import version

    parser = argparse.ArgumentParser(
        prog="responsa", description="The OpenAI Responses API over any Chat-Completions backend."
    )
    parser.add_argument("--version", action="version", version=f"responsa {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8321)
    serve.add_argument("--config", help="YAML config file (default: $RESPONSA_CONFIG)")
    serve.add_argument("--workers", type=int, default=1, help="server processes sharing the port (default 1)")
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
    config = commands.add_parser("config", help="the effective settings")
    config.add_argument("--config", help="YAML config file (default: $RESPONSA_CONFIG)")
    config_actions = config.add_subparsers(dest="action", required=True)
    config_actions.add_parser("show", help="print the settings the server would use, secrets masked")
    doctor = commands.add_parser("doctor", help="what is installed, and whether the settings work")
    doctor.add_argument("--config", help="YAML config file (default: $RESPONSA_CONFIG)")
    recordings = commands.add_parser("recordings", help="list, verify, diff, prune and redact recordings")
    recordings.add_argument("--config", help="YAML config file (default: $RESPONSA_CONFIG)")
    recording_actions = recordings.add_subparsers(dest="action", required=True)
    for name, text in (
        ("list", "key, test id, endpoint, model, size and last hit of each recording"),
        ("verify", "every file parses, is named by its key, no duplicates, no credentials (exit 1 if not)"),
        ("stats", "counts by endpoint, test ids, size, duplicates"),
        ("show", "print one recording (a key prefix or a file name)"),
        ("diff", "where two recordings' requests differ"),
        ("prune", "delete the recordings the hits log says no run used"),
        ("redact", "apply the redaction rules to existing files and rename them to their new keys"),
    ):
        action = recording_actions.add_parser(name, help=text)
        action.add_argument(
            "--dir",
            action="append",
            type=Path,
            help="a recordings directory (repeatable; default: recording_dir)",
        )
        if name == "show":
            action.add_argument("key")
        if name == "diff":
            action.add_argument("a")
            action.add_argument("b")
        if name in ("list", "prune"):
            action.add_argument("--hits", type=Path, help="the hits log (default: recording.hits_log)")
        if name in ("prune", "redact"):
            action.add_argument(
                "--dry-run", action="store_true", help="say what would change, change nothing"
            )
    ogx = commands.add_parser(
        "import-ogx", help="turn a reference-server (OGX / llama-stack) run config into a Responsa config"
    )
    ogx.add_argument("ogx_config", metavar="CONFIG.yaml", help="the OGX run config")
    ogx.add_argument("-o", "--output", help="write the Responsa config here (default: print it)")
    return parser


def _recordings(settings: Settings, args: argparse.Namespace) -> int:
    """`responsa recordings <action>` (`recording/manage.py`); problems go to stdout, one a line."""
    from responsa.recording import manage
    from responsa.recording.redact import Redaction

    directories = args.dir or list(settings.recording_dirs)
    if not directories:
        _fail("recordings: give --dir or configure recording_dir")
    missing = [d for d in directories if not d.is_dir()]
    if missing:
        _fail(f"recordings: no such directory: {missing[0]}")
    redaction = Redaction.build(settings.recording_redact_patterns, settings.recording_redact_fields)
    hits = getattr(args, "hits", None) or settings.recording_hits_log
    if args.action == "verify":
        problems = manage.verify(directories, redaction)
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problems" if problems else "all recordings are sound", file=sys.stderr)
        return 1 if problems else 0
    if args.action == "list":
        for row in manage.listing(directories, redaction, hits):
            print(row)
        return 0
    if args.action == "stats":
        print("\n".join(manage.stats(directories, redaction)))
        return 0
    if args.action in ("show", "diff"):
        chosen = []
        for wanted in [args.key] if args.action == "show" else [args.a, args.b]:
            found = manage.find(directories, wanted, redaction)
            if not found or found[0].recording is None:
                _fail(f"recordings: no recording matches {wanted!r}")
            chosen.append(found[0])
        if args.action == "show":
            print(chosen[0].path.read_text(), end="")
        else:
            assert chosen[0].recording is not None and chosen[1].recording is not None
            print("\n".join(manage.diff(chosen[0].recording, chosen[1].recording)))
        return 0
    if args.action == "prune":
        if not isinstance(hits, Path) or not hits.is_file():
            _fail("recordings prune: give --hits (the hits log of replay runs: recording.hits_log)")
            return 2
        unused = manage.unused(directories, redaction, hits)
        for path in unused:
            print(path)
            if not args.dry_run:
                path.unlink()
        verb = "would be deleted" if args.dry_run else "deleted"
        print(f"{len(unused)} recordings {verb}", file=sys.stderr)
        return 0
    changed = manage.redact(directories, redaction, args.dry_run)
    for old, new in changed:
        print(f"{old} -> {new}" if old != new else str(old))
    print(f"{len(changed)} recordings {'would be ' if args.dry_run else ''}redacted", file=sys.stderr)
    return 0


def _import_ogx(args: argparse.Namespace) -> int:
    """Print (or write) the converted config; every setting that could not be mapped is named
    on stderr."""
    import yaml

    from responsa.ogx_import import convert

    try:
        ogx = yaml.safe_load(Path(args.ogx_config).read_text())
        config, notes = convert(ogx)
    except OSError as exc:
        _fail(f"import-ogx: cannot read {args.ogx_config}: {exc.strerror}")
    except (yaml.YAMLError, ValueError) as exc:
        _fail(f"import-ogx: {args.ogx_config} is not an OGX run config: {exc}")
    text = "# Made by `responsa import-ogx` from " + Path(args.ogx_config).name + "\n"
    text += yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    if args.output:
        Path(args.output).write_text(text)
    else:
        print(text, end="")
    for note in notes:
        print(f"responsa: import-ogx: {note}", file=sys.stderr)
    return 0


def _fail(message: str) -> None:
    print(f"responsa: {message}", file=sys.stderr)
    raise SystemExit(2)


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
    if args.command == "import-ogx":
        raise SystemExit(_import_ogx(args))
    if args.command == "serve":
        if not 1 <= args.port <= 65535:
            _fail(f"invalid setting --port: {args.port} is not a port (1-65535)")
        if args.workers < 1:
            _fail(f"invalid setting --workers: {args.workers} (at least 1)")
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        _fail(str(exc))
    if args.command == "keys":
        raise SystemExit(asyncio.run(_keys(settings, args)))
    if args.command == "recordings":
        raise SystemExit(_recordings(settings, args))
    if args.command in ("config", "doctor"):
        from responsa import doctor

        if args.command == "config":
            print(doctor.show(settings), end="")
            return
        raise SystemExit(doctor.doctor(settings))
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

    from responsa.observability.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    serving = (
        f"serving on http://{args.host}:{args.port} (store {settings.db_url.split('@')[-1]}, "
        f"recording mode {settings.recording_mode})"
    )
    if args.workers > 1:
        _serve_workers(args, settings, serving)
    else:
        _serve(settings, args.host, args.port, serving)


def websocket_options(settings: Settings) -> dict[str, Any]:
    """WebSocket mode: the `websockets` package's sans-I/O protocol (what uvicorn[standard]
    picks), frames as large as a request body, and no per-message compression: SSE is not
    compressed either, and deflating every event costs a turn more CPU than the HTTP stream."""
    return {
        "ws": "websockets-sansio",
        "ws_max_size": settings.max_body_bytes,
        "ws_per_message_deflate": False,
    }


def _serve(settings: Settings, host: str, port: int, serving: str) -> None:
    """One process; `serving` is logged once the port is bound (after the app's startup)."""
    import uvicorn

    from responsa.app import create_app

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                log.info("%s", serving)

    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,  # ours is `responsa.access` (observability/access.py)
        log_config=None,  # uvicorn's loggers go through ours (text or JSON)
        **websocket_options(settings),
    )
    Server(config).run()


def _serve_workers(args: argparse.Namespace, settings: Settings, serving: str) -> None:
    """`--workers N`: each worker process builds its own app from the same settings; their
    metrics are summed through files in PROMETHEUS_MULTIPROC_DIR (made here unless set)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    _split_local_threads(settings, args.workers)
    if args.config:
        os.environ["RESPONSA_CONFIG"] = str(args.config)
    made = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        made = tempfile.mkdtemp(prefix="responsa-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
    config = uvicorn.Config(
        "responsa.app:app_from_environment",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
        **websocket_options(settings),
    )
    sock = config.bind_socket()
    log.info("%s, %d workers", serving, args.workers)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
