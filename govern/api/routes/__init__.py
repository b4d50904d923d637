"""The service's routes, one module per resource; `govern.api.create_app` includes each module's `router`."""
