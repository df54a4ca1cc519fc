"""Azure Functions entry point (Python v2 programming model).

The Functions host imports this module on every cold start, so it only builds the app and registers blueprints:
no I/O, no SDK clients, no settings read here (see shared/bootstrap.py, built lazily on first use).
"""

import azure.functions as func

from shared.triggers.health import blueprint as health_blueprint

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(health_blueprint)
