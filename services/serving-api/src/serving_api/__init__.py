"""serving-api: the custom FastAPI service for the churn model (the Kubernetes path)."""

__version__ = "0.1.0"
