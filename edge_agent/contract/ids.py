"""Identifier and time types of the MQTT conventions, shared by payload and config models."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

#: device, vehicle, intersection and signal-group ids: ``[A-Za-z0-9_-]{1,64}``.
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
#: milliseconds since the Unix epoch, UTC.
TimestampMs = Annotated[int, Field(ge=0, lt=2**63)]
#: per device and topic, only grows; a signed 64-bit integer (SQL BIGINT) everywhere.
Seq = Annotated[int, Field(ge=0, lt=2**63)]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0)]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0)]
NonNegFloat = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
NonNegInt = Annotated[int, Field(ge=0)]
