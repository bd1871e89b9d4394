"""The independent decoder of our ETSI C-ITS messages: asn1tools, compiled from ASN.1 text.

WHY: the production codec (``edge_agent.contract.etsi``) encodes with pycrate; a message is
only verified when a second, independent PER implementation reads the same bytes back to the
same values. asn1tools needs ASN.1 source, which pycrate's package does not ship (only its
compiled Python modules) and which we do not commit: this module writes the ASN.1 text of a
PDU from pycrate's compiled type tree (types, constraints, optionality, extension markers:
everything UPER depends on), every type written out in place, and compiles it with asn1tools.
The encoding and decoding rules are then asn1tools' own. Two simplifications, both neutral
for UPER: an open type (a regional extension's value) becomes an unconstrained OCTET STRING,
whose encoding is the same length-prefixed octets; named bits of a BIT STRING are left out.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import asn1tools
from pycrate_asn1dir import ITS_IS

from edge_agent.contract.etsi.header import MessageId

PDUS: dict[MessageId, Any] = {
    MessageId.SPATEM: ITS_IS.SPATEM_PDU_Descriptions.SPATEM,
    MessageId.MAPEM: ITS_IS.MAPEM_PDU_Descriptions.MAPEM,
    MessageId.SREM: ITS_IS.SREM_PDU_Descriptions.SREM,
    MessageId.SSEM: ITS_IS.SSEM_PDU_Descriptions.SSEM,
}
_STRINGS = ("IA5String", "UTF8String", "NumericString", "PrintableString", "VisibleString",
            "OCTET STRING", "BIT STRING")


def _bound(value: int | None, word: str) -> str:
    return word if value is None else str(value)


def _constraint(cset: Any, size: bool = False) -> str:
    if cset is None:
        return ""
    parts = []
    for item in cset.root:
        if isinstance(item, int):
            parts.append(str(item))
        elif item.lb == item.ub:
            parts.append(str(item.lb))
        else:
            parts.append(f"{_bound(item.lb, 'MIN')}..{_bound(item.ub, 'MAX')}")
    body = " | ".join(parts) + (", ..." if cset.ext is not None else "")
    return f" (SIZE({body}))" if size else f" ({body})"


def _components(obj: Any, depth: int, optional: bool) -> str:
    ext = obj._ext
    if getattr(obj, "_ext_group", None):
        raise NotImplementedError(f"{obj._name}: extension groups")
    lines = []
    for name, comp in obj._cont.items():
        if ext and name in ext:
            continue
        lines.append(_member(name, comp, depth, optional))
    if ext is not None:
        lines.append("...")
        lines += [_member(name, obj._cont[name], depth, optional) for name in ext]
    pad = "  " * (depth + 1)
    return "{\n" + ",\n".join(pad + line for line in lines) + "\n" + "  " * depth + "}"


def _member(name: str, comp: Any, depth: int, optional: bool) -> str:
    text = f"{name} {type_text(comp, depth + 1)}"
    if optional and getattr(comp, "_def", None) is not None:
        raise NotImplementedError(f"{name}: DEFAULT values")
    if optional and comp._opt:
        text += " OPTIONAL"
    return text


def type_text(obj: Any, depth: int = 0) -> str:
    """The ASN.1 text of the pycrate type ``obj``, every referenced type written in place."""
    if depth > 40:
        raise NotImplementedError(f"{obj._name}: recursive type")
    kind = obj.TYPE
    if kind == "SEQUENCE":
        return "SEQUENCE " + _components(obj, depth, optional=True)
    if kind == "CHOICE":
        return "CHOICE " + _components(obj, depth, optional=False)
    if kind in ("SEQUENCE OF", "SET OF"):
        return (f"{kind.split()[0]}{_constraint(obj._const_sz, size=True)} OF "
                f"{type_text(obj._cont, depth + 1)}")
    if kind == "INTEGER":
        return "INTEGER" + _constraint(obj._const_val)
    if kind == "ENUMERATED":
        ext = obj._ext
        names = [f"{n}({v})" for n, v in obj._cont.items() if not ext or n not in ext]
        if ext is not None:
            names.append("...")
            names += [f"{n}({obj._cont[n]})" for n in ext]
        return "ENUMERATED { " + ", ".join(names) + " }"
    if kind in _STRINGS:
        if getattr(obj, "_const_alpha", None) is not None:
            raise NotImplementedError(f"{obj._name}: permitted alphabet")
        return kind + _constraint(obj._const_sz, size=True)
    if kind in ("BOOLEAN", "NULL"):
        return kind
    if kind == "OPEN_TYPE":
        return "OCTET STRING"
    raise NotImplementedError(f"{obj._name}: {kind}")


def module_text(message_id: MessageId) -> str:
    """An ASN.1 module with one type, the PDU of ``message_id``, named as in ETSI's module."""
    pdu = PDUS[message_id]
    return (f"Independent{message_id.name} DEFINITIONS AUTOMATIC TAGS ::= BEGIN\n"
            f"{pdu._name} ::= {type_text(pdu)}\nEND\n")


@lru_cache(maxsize=4)
def compiled(message_id: MessageId) -> Any:
    """asn1tools' UPER codec of the PDU of ``message_id`` (compiled once per process)."""
    return asn1tools.compile_string(module_text(message_id), "uper")


def decode(message_id: MessageId, data: bytes) -> dict[str, Any]:
    """``data`` decoded by asn1tools (its values: BIT STRING as ``(bytes, bits)``...)."""
    value: dict[str, Any] = compiled(message_id).decode(PDUS[message_id]._name, data)
    return value


def encode(message_id: MessageId, value: dict[str, Any]) -> bytes:
    """``value`` (asn1tools' notation) encoded by asn1tools."""
    data: bytes = compiled(message_id).encode(PDUS[message_id]._name, value)
    return data
