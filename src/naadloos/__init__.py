"""naadloos: an open-source, API-first omnichannel engine for retailers."""

__version__ = "0.1.0"
