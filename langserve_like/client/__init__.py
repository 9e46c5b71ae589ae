"""The client half: `RemoteRunnable` (LangServe's `langserve.client` path).

Needs no FastAPI: the bare install of langserve_like is this client.
"""

from langserve_like.client.remote import RemoteRunnable

__all__ = ["RemoteRunnable"]
