"""A local emulator of the Dataverse Web API v9.2, for the tables the Sales integration touches."""
