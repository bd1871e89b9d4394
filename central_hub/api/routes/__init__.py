"""One module per resource; :mod:`central_hub.app` includes every router."""
