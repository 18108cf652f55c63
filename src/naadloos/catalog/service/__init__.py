"""Catalog use cases, split by concern. Services flush; the request or job boundary commits."""
