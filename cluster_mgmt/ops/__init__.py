"""Use cases: what each command does, composed from core and adapters."""
