"""A lint for `infra/**/*.bicep` without the Bicep compiler: `syntax.py` (tree-sitter-bicep), `symbols.py`
(undefined names), `lint.py` (the rules and `python -m tools.bicep.lint [path ...]`)."""
