"""``kassel hub --config PATH [--broker URL]``: run the central hub; ``kassel hub token
issue|revoke|list --config PATH``: its bearer tokens.

WHY the options beyond the contract: a deployment runs one primary (HTTP, live feeds, alarms,
retention) and any number of extra ingest workers on the same shared subscription
(``--ingest-only --client-id hub-1-ingest-2``, with ``KASSEL_HUB_INGEST__SHARED=true`` in every
process, see :mod:`central_hub.ingest.worker`); each worker's client id names its persistent
session, so a restarted worker resumes its own unacknowledged messages.

The hub's modules are imported inside the handlers: ``kassel`` builds its parser from every
package's ``register``, and a controller's Pi has no FastAPI or SQLAlchemy installed.
"""
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime

from edge_agent.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from edge_agent.cli.common import check_paths, port
from edge_agent.contract.configs import HubConfig, load_config
from edge_agent.errors import ConfigError, KasselError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``hub`` command."""
    p = sub.add_parser("hub", help="run the central hub (ingest, API, dashboard, feeds)",
                       description="Run the central hub (kassel hub --config PATH), or manage "
                       "its bearer tokens (kassel hub token ACTION --config PATH).")
    p.add_argument("--config", metavar="PATH", help="hub config (YAML); required")
    p.add_argument("--broker", default=os.environ.get("KASSEL_BROKER"), metavar="URL",
                   help="mqtt://user:pass@host:port or mqtts://... (default: KASSEL_BROKER, "
                   "then mqtt.broker of the config)")
    p.add_argument("--host", help="HTTP host (default: http.host of the config)")
    p.add_argument("--port", type=port, help="HTTP port (default: http.port of the config)")
    p.add_argument("--ingest-only", action="store_true",
                   help="run only an ingest worker (no HTTP, no alarms)")
    p.add_argument("--client-id", help="MQTT client id of this ingest worker's session")
    p.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log detail")
    p.set_defaults(handler=run, hub_parser=p)
    _register_token(p.add_subparsers(dest="hub_command", metavar="ACTION"))


def _register_token(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``kassel hub token issue|revoke|list``."""
    t = sub.add_parser("token", help="issue, revoke and list bearer tokens",
                       description="Bearer tokens of the hub, kept in its database as SHA-256 "
                       "digests: a token is printed once, when issued, and never again.")
    cmds = t.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    issue = cmds.add_parser("issue", help="issue a token and print it once")
    issue.add_argument("--name", required=True, help="who or what holds it (shown in list)")
    issue.add_argument("--role", required=True, action="append", dest="roles", metavar="ROLE",
                       help="a role it grants (repeat for more): " + _ROLE_NAMES)
    issue.add_argument("--expires-days", type=_positive, metavar="D",
                       help="days until it expires (default: never)")
    revoke = cmds.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("id", type=int, metavar="ID", help="the token's id (from list)")
    cmds.add_parser("list", help="list tokens (never the tokens or their digests)")
    for c in (issue, revoke, cmds.choices["list"]):
        c.add_argument("--config", required=True, metavar="PATH",
                       help="hub config (YAML): its database holds the tokens")
        c.set_defaults(handler=_token)


_ROLE_NAMES = "engineer, admin, kita_staff, learning_author, learning_reviewer, " \
    "opendata_publisher"


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _token(args: argparse.Namespace) -> int:
    """``kassel hub token ...``: one line on stderr and rc 2 on bad input."""
    from central_hub.core.identity import parse_roles
    from central_hub.core.tokens import TokenStore
    from central_hub.storage.db import make_engine

    try:
        config = _hub_config(args.config)
        roles = parse_roles(args.roles) if args.token_command == "issue" else frozenset()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"kassel hub token issue: --role: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        engine = make_engine(config.database)
    except Exception as exc:  # any driver error: one line, not a traceback
        print(f"kassel hub token: cannot open the database: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        store = TokenStore(engine)
        if args.token_command == "issue":
            try:
                record, token = store.issue(args.name, roles, args.expires_days)
            except ValueError as exc:
                print(f"kassel hub token issue: {exc}", file=sys.stderr)
                return EXIT_USAGE
            print(f"token {record.id} ({record.name}; {', '.join(sorted(roles))}; expires "
                  f"{_when(record.expires_ms) or 'never'}), shown only now:", file=sys.stderr)
            print(token, flush=True)
        elif args.token_command == "revoke":
            found = store.revoke(args.id)
            if found is None:
                print(f"kassel hub token revoke: no token {args.id}", file=sys.stderr)
                return EXIT_USAGE
            print(f"token {found.id} ({found.name}) revoked")
        else:
            print(f"{'ID':>4}  {'NAME':<24} {'ROLES':<30} {'CREATED':<17} {'EXPIRES':<17} "
                  f"{'LAST USED':<17} STATE")
            now = int(time.time() * 1000)
            for r in store.records():
                state = "revoked" if r.revoked else "active" if r.active(now) else "expired"
                print(f"{r.id:>4}  {r.name[:24]:<24} {','.join(sorted(r.roles))[:30]:<30} "
                      f"{_when(r.created_ms):<17} {_when(r.expires_ms) or 'never':<17} "
                      f"{_when(r.last_used_ms) or '-':<17} {state}")
    except Exception as exc:
        # the driver's own message, never the statement's parameters (they hold digests)
        print(f"kassel hub token: {type(exc).__name__}: {getattr(exc, 'orig', None) or exc}",
              file=sys.stderr)
        return EXIT_FAILURE
    finally:
        engine.dispose()
    return EXIT_OK


def _when(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _hub_config(path: str) -> HubConfig:
    config = load_config(path)
    if not isinstance(config, HubConfig):
        raise ConfigError(path, [("kind", f"must be hub, got {config.kind}")])
    return config


def run(args: argparse.Namespace) -> int:
    """Load the config and run until SIGTERM/SIGINT."""
    if not args.config:
        args.hub_parser.error("the following arguments are required: --config")
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = _hub_config(args.config)
        problems = check_paths(config)
        if problems:
            raise ConfigError(args.config, problems)
        from central_hub.core.config import HubSettings, IngestSettings, resolve

        settings = HubSettings()
        if args.client_id:
            ingest = IngestSettings(**{**settings.ingest.model_dump(),
                                       "client_id": args.client_id})
            settings = settings.model_copy(update={"ingest": ingest})
        runtime = resolve(config, settings, args.broker)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.ingest_only:
            return _run_ingest(runtime)
        return _run_http(runtime, args.host or config.http.host, args.port or config.http.port,
                         access_log=args.log_level == "DEBUG")
    except KasselError as exc:
        print(f"kassel hub: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _run_ingest(runtime: object) -> int:
    from central_hub.core.config import HubRuntime
    from central_hub.ingest.worker import IngestWorker
    from central_hub.registry import DeviceRegistry
    from central_hub.storage.db import make_engine
    from edge_agent.contract.topics import Topics

    assert isinstance(runtime, HubRuntime)
    engine = make_engine(runtime.config.database)
    # vehicle -> device, for the birth rule (devices registered later: no lower bound there)
    entities = DeviceRegistry(engine, Topics(runtime.topic_root), None, None).entity_map()
    worker = IngestWorker(runtime, engine, entity_device=entities)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    worker.start()
    logging.getLogger(__name__).info("ingest worker %s running", worker.client_id)
    done.wait()
    worker.stop()
    engine.dispose()
    return EXIT_OK


def _run_http(runtime: object, host: str, port: int, *, access_log: bool) -> int:
    """Serve the hub. uvicorn logs warnings only; with ``--log-level DEBUG`` also its access
    log and WebSocket handshakes, scrubbed of client addresses, query strings and child ids
    (``edge_agent.http_logs``: an address is personal data)."""
    import uvicorn

    from central_hub.app import SERVICES, create_app
    from central_hub.core.config import HubRuntime
    from edge_agent.http_logs import scrub_server_logs

    assert isinstance(runtime, HubRuntime)
    app = create_app(runtime, freeze_heap=True)
    print(f"kassel hub: http://{host}:{port}/", flush=True)
    config = uvicorn.Config(app, host=host, port=port, ws_ping_interval=20,
                            log_level="info" if access_log else "warning",
                            access_log=access_log)
    # after uvicorn configured its loggers; a service's paths may carry personal data
    scrub_server_logs(*(make() for service in SERVICES for make in service.log_filters))
    server = uvicorn.Server(config)
    server.run()
    return EXIT_OK if server.started else EXIT_FAILURE  # not started: e.g. the port is taken
