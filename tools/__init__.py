"""Developer tools that read the project and never run in it: the Bicep lint (`tools/bicep/`) and the generators of
docs/mappings.md (`tools/mapping_docs.py`) and of the folder map in docs/architecture.md (`tools/folder_map.py`).
Outside the runtime tree on purpose: the app (`shared/`, `function_app.py`) and the local stack (`local/`) never
import them (tests/unit/test_import_rules.py), and they are never deployed (.funcignore).
"""
