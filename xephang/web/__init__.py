"""Adapters shared by the rooms: the request's database and publishing (``context``),
who may call what (``auth``), the ``/api/v1`` JSON API and its OpenAPI document, the
realtime hub and its Socket.IO handlers, error responses and the production server.
"""

from .context import get_db, publish, tracker_url

__all__ = ["get_db", "publish", "tracker_url"]
