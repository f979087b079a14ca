"""Adapters: one module per external system, each translating its library's errors."""
