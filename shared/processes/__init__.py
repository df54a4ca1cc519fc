"""BC's document jobs: Sales orders into BC orders, order status back, quotes, posted invoices, payments, account
statistics and item availability. Each process knows its own mappings; it builds on the engine, never on services."""
