"""The interface contract as code: topics, payload models and config models.

Every package and the hub import topics and payloads from here; nothing else assembles a topic
string or defines a payload. This package depends only on pydantic and PyYAML.
"""

from edge_agent.contract.payloads import decode, encode
from edge_agent.contract.topics import SPECS, Topics, TopicSpec

__all__ = ["SPECS", "TopicSpec", "Topics", "decode", "encode"]
