"""Arguments every device command shares: ``--config PATH`` and ``--broker URL``.

The broker URL comes from ``--broker``, else ``KASSEL_BROKER``, else the config's
``mqtt.broker`` (CONTRACT §7).
"""

from __future__ import annotations

import argparse
import os
from typing import TypeVar

from edge_agent.contract.configs import DeviceConfig, load_config
from edge_agent.errors import ConfigError
from edge_agent.mqtt import BrokerAddress

C = TypeVar("C", bound=DeviceConfig)


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--config`` (required) and ``--broker``."""
    parser.add_argument("--config", required=True, metavar="PATH", help="device config (YAML)")
    parser.add_argument(
        "--broker",
        metavar="URL",
        default=None,
        help="mqtt://user:pass@host:port or mqtts://… (default: $KASSEL_BROKER, then config)",
    )


def load_device_config(args: argparse.Namespace, expected: type[C]) -> tuple[C, str]:
    """The validated config of the expected kind and the broker URL to use."""
    config = load_config(args.config)
    if not isinstance(config, expected):
        raise ConfigError(
            args.config,
            [("kind", f"expected a {expected.__name__} file, got kind {config.kind!r}")],
        )
    url = args.broker or os.environ.get("KASSEL_BROKER") or config.mqtt.broker
    try:
        BrokerAddress.parse(url)
    except ValueError as exc:
        source = "--broker" if args.broker else "KASSEL_BROKER"
        raise ConfigError(source, [("", str(exc))]) from exc
    return config, url
