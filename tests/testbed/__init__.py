"""The test bed: real servers and emulators for integration tests (see README.md)."""
