"""The live path: a non-shared subscription feeding in-memory state, WebSockets and alarms."""
