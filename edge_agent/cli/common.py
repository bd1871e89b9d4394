"""Arguments every device command shares (``--config PATH``, ``--broker URL``) and the value
types of the command line, so that every command checks ports, counts and durations alike.

The broker URL comes from ``--broker``, else ``KASSEL_BROKER``, else the config's
``mqtt.broker``.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from edge_agent.contract.configs import SQLITE_PREFIX, DeviceConfig, HubConfig, load_config
from edge_agent.errors import ConfigError
from edge_agent.mqtt import BrokerAddress, check_transport

C = TypeVar("C", bound=DeviceConfig)


def int_between(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in ``[low, high]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {low} to {high}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value

    parse.__name__ = f"whole number from {low} to {high}"
    return parse


#: an argparse type: a TCP port.
port = int_between(1, 65535)


def seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--config`` (required) and ``--broker``."""
    parser.add_argument("--config", required=True, metavar="PATH", help="device config (YAML)")
    parser.add_argument(
        "--broker",
        metavar="URL",
        default=None,
        help="mqtt://user:pass@host:port or mqtts://… (default: $KASSEL_BROKER, then config)",
    )


def _writable_dir(path: Path) -> str | None:
    """``None`` when ``path`` exists or can be created and can be written; else why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create {path}: {exc.strerror or exc}"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"cannot write to {path}: permission denied (choose a folder this user owns)"
    return None


def _readable_file(path: Path) -> str | None:
    if not path.is_file():
        return f"no such file: {path}"
    if not os.access(path, os.R_OK):
        return f"cannot read {path}: permission denied"
    return None


def check_paths(config: DeviceConfig) -> list[tuple[str, str]]:
    """``(field, problem)`` for every file or folder of ``config`` that cannot be used: checked
    before a service starts, so the answer is one line naming the field, not a traceback."""
    problems: list[tuple[str, str]] = []
    if (why := _writable_dir(Path(config.agent.state_dir))) is not None:
        problems.append(("agent.state_dir", why))
    files = {"mqtt.password_file": config.mqtt.password_file}
    if config.mqtt.tls is not None:
        files |= {"mqtt.tls.ca_file": config.mqtt.tls.ca_file,
                  "mqtt.tls.cert_file": config.mqtt.tls.cert_file,
                  "mqtt.tls.key_file": config.mqtt.tls.key_file}
    if isinstance(config, HubConfig):
        files["gtfs.static"] = config.gtfs.static
        if config.database.startswith(SQLITE_PREFIX):
            db = Path(config.database[len(SQLITE_PREFIX):])
            if (why := _writable_dir(db.parent)) is not None:
                problems.append(("database", why))
    for name, value in files.items():
        if value is not None and (why := _readable_file(Path(value))) is not None:
            problems.append((name, why))
    return problems


def load_device_config(args: argparse.Namespace, expected: type[C]) -> tuple[C, str]:
    """The validated config of the expected kind and the broker URL to use."""
    config = load_config(args.config)
    if not isinstance(config, expected):
        raise ConfigError(
            args.config,
            [("kind", f"expected a {expected.__name__} file, got kind {config.kind!r}")],
        )
    problems = check_paths(config)
    if problems:
        raise ConfigError(args.config, problems)
    url = args.broker or os.environ.get("KASSEL_BROKER") or config.mqtt.broker
    source = ("--broker" if args.broker else "KASSEL_BROKER"
              if os.environ.get("KASSEL_BROKER") else "mqtt.broker")
    try:
        BrokerAddress.parse(url)
    except ValueError as exc:
        raise ConfigError(source, [("", str(exc))]) from exc
    check_transport(url, config.mqtt, source)  # an override obeys the config's TLS rule
    return config, url
