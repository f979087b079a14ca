"""Pure core: config model, rendering, policy model. No I/O here."""
