"""infra/ without Azure: the Bicep lint (`tools/bicep/`) on every file, and the templates checked against the app
they deploy (app settings, tables, queue rules, roles)."""
