"""bc-sales-sync: the Business Central <-> Dynamics 365 Sales integration as Azure Functions."""
