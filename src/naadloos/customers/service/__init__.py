"""Use cases of the customers module, one file each: the identity graph, tracking ingestion,
profiles (traits, 360, timeline, explain)."""
