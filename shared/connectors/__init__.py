"""Adapters to Business Central and Dataverse (HTTP) and the token providers they use."""
