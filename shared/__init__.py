"""bc-sales-sync: the Business Central <-> Dynamics 365 Sales integration as Azure Functions, everything that is
deployed but `function_app.py`. Its rooms are the packages below; beside them, the modules the rooms share: the
ports the services depend on (`ports.py`), the settings read once from the environment (`settings.py`), telemetry
(`telemetry.py`, its pipeline in `telemetry_setup.py`), and the composition root that builds the adapters and hands
them to the services (`bootstrap.py`).
"""
