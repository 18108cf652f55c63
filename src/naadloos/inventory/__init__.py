"""One stock: locations, an append-only stock ledger, reservations with a TTL and allocations,
safety stock per channel, and availability to promise in every channel."""
