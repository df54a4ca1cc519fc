"""API v2.0 entity sets: `writer.py` (create, update, delete with BC's rules), the table rules it runs (`documents`,
`document_tax`, `gl_accounts`, `contact_rules`) typed against the narrow `records.Records`, reads with OData options
(`reads.py`, `odata_context.py`) and the computed read-only sets (`business_relations`, `financials`).
"""
