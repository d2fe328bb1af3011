"""TechTribe: courses, advisories and poems, served as an async API."""

__version__ = "0.1.0"
