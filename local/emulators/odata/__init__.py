"""OData v4 query options ($filter, $select, $orderby, $expand, $top, $count) for the local emulators.

The Dataverse and Business Central emulators share this pure-Python parser so that both reject malformed or
ill-typed queries with 400s worded like the real services' (both run Microsoft.OData.Core), instead of silently
returning rows that production would never return. Nothing here knows about HTTP or a particular entity model:
callers supply a resolver that maps property names to EDM types.
"""
