"""The HTTP API: the app factory and the routers mounted from the modules."""
