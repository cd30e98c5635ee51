"""Free loopback ports for servers started by tests (re-exported from the adapter)."""

from seasonal_engines.adapters.local_processes import free_loopback_port, free_loopback_ports

__all__ = ["free_loopback_port", "free_loopback_ports"]
