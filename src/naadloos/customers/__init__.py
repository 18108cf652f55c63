"""One customer: every identifier from every channel resolves to one person with one timeline.

Owns the tracking API (Segment-compatible), identifiers and their policies, the identity graph
(an append-only log of links with evidence; the person is a connected component of it, derived
online inside the request that brings an identifier), profiles and the customer 360."""
