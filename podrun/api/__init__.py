"""podrun's daemon API: the aiohttp server (server.py), the CLI's client (client.py) and the
v1 wire shapes both use (schema.py)."""
