"""Payments: the gateway protocol, the built-in sandbox and the HTTP gateway."""
