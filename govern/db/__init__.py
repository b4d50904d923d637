"""The service database: connections, sessions, migrations and the tables."""
