"""Companies as configuration (issue 22, item 2): `BC_COMPANIES` read and checked by `Settings.from_env`
(shared/settings.py) into `Company` values (shared/domain/companies.py), and how a caller names one (`resolve`)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from shared.domain.companies import Company, base_url_for, derived_key, resolve
from shared.domain.errors import InvalidInputError
from shared.settings import Settings, SettingsError

ENV = {
    "BC_BASE_URL": "https://api.businesscentral.dynamics.com/v2.0/tenant-1/production/",
    "BC_COMPANY": "CRONUS USA, Inc.",
    "DATAVERSE_URL": "https://org.crm.dynamics.com",
    "TENANT_ID": "t",
    "CLIENT_ID": "c",
    "CLIENT_SECRET": "s",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
}


def settings(companies: Any, **more: str) -> Settings:
    return Settings.from_env({**ENV, "BC_COMPANIES": json.dumps(companies), **more})


def problems(companies: Any, **more: str) -> list[str]:
    raw = companies if isinstance(companies, str) else json.dumps(companies)
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**ENV, "BC_COMPANIES": raw, **more})
    return raised.value.problems


def test_without_the_setting_the_deployment_serves_todays_one_company_under_todays_tables() -> None:
    for env in (ENV, {**ENV, "BC_COMPANIES": ""}, {**ENV, "BC_COMPANIES": "  "}):
        loaded = Settings.from_env(env)
        assert loaded.companies == (Company("production", "CRONUS USA, Inc.", ""),)
        assert loaded.company("") == loaded.companies[0]
        assert loaded.company("c1234") is None


def test_a_settings_object_built_in_code_has_its_one_company_too() -> None:
    built = Settings(
        "https://bc.example/v2.0/t/sandbox", "Fabrikam", "https://org", "t", "c", Settings.from_env(ENV).auth_mode
    )
    assert built.companies == (Company("sandbox", "Fabrikam", ""),)


def test_the_primary_entry_keeps_key_empty_and_the_others_get_their_key_or_a_derived_one() -> None:
    loaded = settings(
        [
            {"environment": "sandbox", "company": "CRONUS USA, Inc."},
            {"environment": "Production", "company": "cronus usa, inc."},  # today's company, however it is spelled
            {"environment": "production", "company": "Fabrikam, Inc.", "key": "fab"},
        ]
    )
    expected_key = "c" + hashlib.sha256(b"sandbox/cronus usa, inc.").hexdigest()[:8]
    assert [c.key for c in loaded.companies] == [expected_key, "", "fab"]
    assert derived_key("Sandbox", "CRONUS USA, INC.") == expected_key  # stable: case does not move its tables
    assert loaded.companies[1].is_primary and not loaded.companies[0].is_primary


def test_the_company_base_url_swaps_the_environment_only() -> None:
    base = "https://api.businesscentral.dynamics.com/v2.0/tenant-1/production"
    assert base_url_for(base, "sandbox") == "https://api.businesscentral.dynamics.com/v2.0/tenant-1/sandbox"
    assert base_url_for(base + "/", "production") == base


def test_a_value_that_is_no_json_array_of_companies_is_named() -> None:
    assert problems("not json") == ["BC_COMPANIES must be a JSON array of {environment, company, key?} objects"]
    assert problems({"environment": "x"}) == [
        "BC_COMPANIES must be a non-empty JSON array of {environment, company, key?} objects"
    ]
    assert problems([]) == ["BC_COMPANIES must be a non-empty JSON array of {environment, company, key?} objects"]
    assert problems(["production"]) == [
        "BC_COMPANIES[0] must be an object with environment, company and optionally key"
    ]


def test_missing_and_unknown_fields_are_named_with_their_entry() -> None:
    found = problems([{"environment": "production", "company": "A"}, {"company": "B", "env": "x"}])
    assert found == [
        "BC_COMPANIES[1] has an unknown field 'env'",
        "BC_COMPANIES[1].environment is required (a non-empty text)",
    ]
    assert problems([{"environment": "p", "company": " "}]) == [
        "BC_COMPANIES[0].company is required (a non-empty text)"
    ]
    assert problems([{"environment": "p", "company": "A", "key": ""}]) == [
        "BC_COMPANIES[0].key must be a non-empty text when given"
    ]


def test_duplicates_and_key_clashes_are_named() -> None:
    twice = [{"environment": "sandbox", "company": "A"}, {"environment": "Sandbox", "company": "a"}]
    assert problems(twice) == ["BC_COMPANIES lists Sandbox/a twice"]
    clash = [
        {"environment": "sandbox", "company": "A", "key": "k1"},
        {"environment": "sandbox", "company": "B", "key": "K1"},
    ]
    assert problems(clash) == ["BC_COMPANIES: sandbox/B and sandbox/A have the same key 'K1'"]


def test_keys_must_fit_a_table_name() -> None:
    assert problems([{"environment": "s", "company": "A", "key": "1abc"}]) == [
        "BC_COMPANIES: the key '1abc' of s/A must be letters and digits, starting with a letter"
    ]
    assert problems([{"environment": "s", "company": "A", "key": "a-b"}])[0].startswith("BC_COMPANIES: the key 'a-b'")
    long_prefix = "p" * 25
    assert problems([{"environment": "s", "company": "A", "key": "abcdef"}], TABLE_PREFIX=long_prefix) == [
        f"BC_COMPANIES: TABLE_PREFIX + the key of s/A ('{long_prefix}abcdef') is longer than 30 characters"
    ]
    settings([{"environment": "s", "company": "A", "key": "abcde"}], TABLE_PREFIX=long_prefix)  # 30 exactly: fine


def test_the_primary_cannot_be_given_another_key() -> None:
    assert problems([{"environment": "production", "company": "CRONUS USA, Inc.", "key": "main"}]) == [
        "BC_COMPANIES[0] is BC_BASE_URL's environment and BC_COMPANY: its key is \"\" (today's tables); "
        "leave its key out"
    ]


def test_companies_problems_come_with_the_other_settings_problems() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**ENV, "CLIENT_ID": "", "BC_COMPANIES": "[1]"})
    assert raised.value.problems == [
        "CLIENT_ID is required",
        "BC_COMPANIES[0] must be an object with environment, company and optionally key",
    ]


# -- naming a company (the HTTP API's `company`) ------------------------------------------------------------------
PRIMARY = Company("production", "CRONUS USA, Inc.", "")
FABRIKAM = Company("production", "Fabrikam, Inc.", "fab")
SANDBOX = Company("sandbox", "CRONUS USA, Inc.", "c1a2b3c4d")


def code_of(companies: tuple[Company, ...], requested: str | None) -> tuple[str, str | None]:
    with pytest.raises(InvalidInputError) as raised:
        resolve(companies, requested)
    return raised.value.code, raised.value.field


def test_one_company_needs_no_name_and_several_need_one() -> None:
    assert resolve((PRIMARY,), None) is PRIMARY
    assert code_of((PRIMARY, FABRIKAM), None) == ("companyRequired", "company")


def test_a_blank_company_is_refused_naming_company_even_with_one_company() -> None:
    """Given but blank is a mistake (the OpenAPI document's pattern refuses it), not "the only company"."""
    for blank in ("", "  ", "\x0c"):
        assert code_of((FABRIKAM,), blank) == ("invalidValue", "company")
        assert code_of((PRIMARY, FABRIKAM), blank) == ("invalidValue", "company")
    for not_blank in ("\x1f", "\x85"):  # the document's pattern calls these text (str.strip() would not)
        assert code_of((FABRIKAM,), not_blank) == ("companyNotConfigured", "company")


def test_a_company_is_named_by_key_name_or_environment_and_name() -> None:
    every = (PRIMARY, FABRIKAM, SANDBOX)
    assert resolve(every, "fab") is FABRIKAM
    assert resolve(every, "fabrikam, inc.") is FABRIKAM
    assert resolve(every, "c1a2b3c4d") is SANDBOX
    assert resolve(every, "sandbox/CRONUS USA, Inc.") is SANDBOX
    assert resolve(every, "PRODUCTION/cronus usa, inc.") is PRIMARY
    assert code_of(every, "CRONUS USA, Inc.") == ("companyAmbiguous", "company")
    assert code_of(every, "Contoso") == ("companyNotConfigured", "company")
    assert code_of((PRIMARY,), "Contoso") == ("companyNotConfigured", "company")
