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
from typing import TypeVar

from edge_agent.contract.configs import DeviceConfig, load_config
from edge_agent.errors import ConfigError
from edge_agent.mqtt import BrokerAddress

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
