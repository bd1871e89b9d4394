"""Settings and security shared by the hub's services (full-stack-fastapi-template's ``core``)."""
