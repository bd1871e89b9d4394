"""``kassel hub --config PATH [--broker URL]``: run the central hub.

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

from edge_agent.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from edge_agent.cli.common import check_paths, port
from edge_agent.contract.configs import HubConfig, load_config
from edge_agent.errors import ConfigError, KasselError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``hub`` command."""
    p = sub.add_parser("hub", help="run the central hub (ingest, API, dashboard, feeds)")
    p.add_argument("--config", required=True, metavar="PATH", help="hub config (YAML)")
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
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load the config and run until SIGTERM/SIGINT."""
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
        if not isinstance(config, HubConfig):
            raise ConfigError(args.config, [("kind", f"must be hub, got {config.kind}")])
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

    from central_hub.app import create_app
    from central_hub.core.config import HubRuntime
    from central_hub.kita.api import RedactChildIds
    from edge_agent.http_logs import scrub_server_logs

    assert isinstance(runtime, HubRuntime)
    app = create_app(runtime)
    print(f"kassel hub: http://{host}:{port}/", flush=True)
    config = uvicorn.Config(app, host=host, port=port, ws_ping_interval=20,
                            log_level="info" if access_log else "warning",
                            access_log=access_log)
    scrub_server_logs(RedactChildIds())  # after uvicorn configured its loggers
    server = uvicorn.Server(config)
    server.run()
    return EXIT_OK if server.started else EXIT_FAILURE  # not started: e.g. the port is taken
