"""Azure Functions entry point (Python v2 programming model).

The Functions host imports this module on every cold start, so it only builds the app and registers blueprints:
no I/O, no SDK clients, no settings read here (`shared/bootstrap.py` builds them lazily on first use).
"""

import azure.functions as func

from shared.triggers import (
    availability,
    console,
    document_timers,
    health,
    http_companies,
    http_coupling_lists,
    http_couplings,
    http_document_lists,
    http_documents,
    http_full_sync,
    http_mappings,
    http_match_jobs,
    http_records,
    http_setup,
    http_sync_errors,
    notifications_bc,
    notifications_dataverse,
    notifications_timer,
    openapi,
    queues,
    statistics,
    timers,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for module in (
    health,
    openapi,
    http_companies,
    http_mappings,
    http_sync_errors,
    http_couplings,
    http_coupling_lists,
    http_match_jobs,
    http_full_sync,
    http_setup,
    http_documents,
    http_document_lists,
    http_records,
    availability,
    statistics,
    timers,
    document_timers,
    queues,
    console,
    notifications_bc,
    notifications_dataverse,
    notifications_timer,
):
    app.register_functions(module.blueprint)
