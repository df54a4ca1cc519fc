"""A local emulator of the Business Central API v2.0 and the page web services the Sales integration needs."""
