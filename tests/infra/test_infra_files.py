"""infra/ as it is: every Bicep file parses, the lint finds nothing, and the azd wiring (main.parameters.json,
azure.yaml) matches main.bicep. No compiler is needed; `.github/workflows/infra.yml` adds `az bicep build` and
`what-if` where the internet exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.settings import parse_companies
from tools.bicep.lint import lint_paths
from tools.bicep.syntax import BicepFile, parse, syntax_errors

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))


def test_the_expected_modules_exist() -> None:
    names = {p.relative_to(INFRA).as_posix() for p in BICEP_FILES}
    assert {
        "main.bicep",
        "app/storage.bicep",
        "app/servicebus.bicep",
        "app/keyvault.bicep",
        "app/monitoring.bicep",
        "app/functionapp.bicep",
        "app/alerts.bicep",
        "app/storage-access.bicep",
        "app/servicebus-access.bicep",
        "app/keyvault-access.bicep",
        "app/monitoring-access.bicep",
    } <= names


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_bicep_file_parses(path: Path) -> None:
    tree = parse(path.read_text(encoding="utf-8"))
    assert syntax_errors(tree, str(path)) == []
    assert not tree.root_node.has_error


def test_the_lint_finds_nothing_in_infra() -> None:
    assert [str(f) for f in lint_paths([INFRA])] == []


def main_parameters() -> dict[str, bool]:
    """main.bicep's parameters: name -> has a default."""
    main = BicepFile(INFRA / "main.bicep", "main.bicep")
    return {
        d.named_children[0].text.decode(): len(d.named_children) >= 3
        for d in main.declarations
        if d.type == "parameter_declaration" and d.named_children[0].text is not None
    }


def test_main_parameters_json_fills_main_bicep_with_azd_variables_only() -> None:
    document = json.loads((INFRA / "main.parameters.json").read_text())
    values = {name: entry["value"] for name, entry in document["parameters"].items()}
    declared = main_parameters()
    assert set(values) <= set(declared), "main.parameters.json names a parameter main.bicep does not declare"
    required = {name for name, has_default in declared.items() if not has_default}
    assert required <= set(values), "a parameter without a default must come from the azd environment"
    # every value is an azd variable, so no literal (and no secret) is ever committed in the file
    assert all(re.fullmatch(r"\$\{[A-Z][A-Z0-9_]*(=[^}]*)?\}", value) for value in values.values()), values
    assert values["environmentName"] == "${AZURE_ENV_NAME}"
    assert values["location"] == "${AZURE_LOCATION}"


COMPANIES = [
    {"environment": "production", "company": "CRONUS USA, Inc."},
    {"environment": "production", "company": "Fabrikam, Inc.", "key": "fab"},
]


def test_bc_companies_reaches_the_bicep_parameter_as_the_json_the_app_reads() -> None:
    """azd puts an environment value into main.parameters.json as text, then reads the file as JSON (azure-dev's
    Bicep provider: envsubst on the file's text, no escaping). So BC_COMPANIES is set with its quotes escaped, as
    infra/README.md says; done so, the parameter is the JSON text the app parses into the companies. Unset, it is
    empty: today's one company."""
    raw = (INFRA / "main.parameters.json").read_text()
    assert '"${BC_COMPANIES=}"' in raw
    escaped = json.dumps(COMPANIES).replace('"', '\\"')  # what `azd env set BC_COMPANIES '...'` holds
    document = json.loads(raw.replace("${BC_COMPANIES=}", escaped))
    value = document["parameters"]["bcCompanies"]["value"]
    assert json.loads(value) == COMPANIES
    problems: list[str] = []
    parsed = parse_companies(value, "https://api.example/v2.0/t/production", "CRONUS USA, Inc.", "", problems)
    assert problems == [] and [(c.company, c.key) for c in parsed] == [
        ("CRONUS USA, Inc.", ""),
        ("Fabrikam, Inc.", "fab"),
    ]
    unescaped = raw.replace("${BC_COMPANIES=}", json.dumps(COMPANIES))
    with pytest.raises(json.JSONDecodeError):  # why the README says to escape the quotes
        json.loads(unescaped)
    unset = json.loads(raw.replace("${BC_COMPANIES=}", ""))
    assert unset["parameters"]["bcCompanies"]["value"] == ""


def test_abbreviations_cover_every_name_used() -> None:
    abbreviations = json.loads((INFRA / "abbreviations.json").read_text())
    used = {m for p in BICEP_FILES for m in re.findall(r"abbrs\.(\w+)", p.read_text())}
    assert used <= set(abbreviations)


def test_azure_yaml_deploys_this_directory_as_a_python_function_app() -> None:
    # read as text: PyYAML is no direct dependency, and the file is a few fixed lines
    document = (ROOT / "azure.yaml").read_text()
    service = re.search(r"^services:\n  api:\n((?:    .*\n)+)", document, re.MULTILINE)
    assert service is not None
    assert sorted(service.group(1).split("\n")[:-1]) == ["    host: function", "    language: python", "    project: ."]
    assert re.search(r"^infra:\n  provider: bicep\n  path: infra\n", document, re.MULTILINE)
    functionapp = (INFRA / "app" / "functionapp.bicep").read_text()
    assert "'azd-service-name': 'api'" in functionapp  # azd finds the service's target by this tag


def test_flex_consumption_python_311() -> None:
    text = (INFRA / "app" / "functionapp.bicep").read_text()
    assert "tier: 'FlexConsumption'" in text
    assert re.search(r"runtime: \{\s*name: 'python'\s*version: '3\.11'\s*\}", text)
    assert "type: 'UserAssignedIdentity'" in text  # the deployment container is read with the identity


def test_the_workflow_builds_and_what_ifs_with_the_pinned_parser() -> None:
    workflow = (ROOT / ".github" / "workflows" / "infra.yml").read_text()
    assert "az bicep build --file infra/main.bicep" in workflow
    assert "az deployment sub what-if" in workflow
    assert "id-token: write" in workflow  # OIDC, no client secret
    pins = set(re.findall(r"^(tree-sitter(?:-bicep)?==\S+)$", (ROOT / "requirements-dev.txt").read_text(), re.M))
    assert len(pins) == 2
    assert pins <= set(workflow.split()), "the workflow's lint must use the versions make test uses"
    declared = main_parameters()
    passed = set(re.findall(r"^\s+(\w+)=", workflow, re.M))
    assert {name for name, has_default in declared.items() if not has_default} <= passed
