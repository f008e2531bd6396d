"""Publish/subscribe channels for WebSocket and SSE fan-out, in one process or across many.

``Channels(backend)`` with :class:`MemoryBackend` (the default: one process),
:class:`RedisPubSubBackend` or :class:`RedisStreamBackend` (any number of processes
and machines on one Redis; ``pip install aster[redis]``).  Each subscription has a
bounded queue and a policy for a subscriber that falls behind; see
:mod:`aster.channels.subscription`.
"""

from __future__ import annotations

from .backend import Backend, MemoryBackend, PublishError
from .channels import Channels
from .redis_backends import RedisPubSubBackend, RedisStreamBackend
from .subscription import Message, Missed, Policy, Subscription

__all__ = [
    "Backend",
    "Channels",
    "MemoryBackend",
    "Message",
    "Missed",
    "Policy",
    "PublishError",
    "RedisPubSubBackend",
    "RedisStreamBackend",
    "Subscription",
]
