"""The whole local stack (`make serve` on free ports) through the app's HTTP API, as an admin uses it: full sync
under faults, order to cash, security and races, and the API fuzz test against the OpenAPI document."""
