"""Dataverse query options the emulator does not run are refused, never ignored.

Why: a client that sends `accounts?fetchXml=...` or `accounts?sql=SELECT ...` and gets the whole table back with 200
believes its filter ran; in production the same request returns only the matching rows. Answering an error is the
only honest reading for an emulator that has no FetchXML or SQL engine.

Documented by Microsoft (Power Apps developer docs): `fetchXml=` ("Use FetchXml with Web API"), `sql=` ("Use SQL to
query data by using the Dataverse Web API (preview)": a single SELECT only, other statements are not supported),
`savedQuery=` / `userQuery=` ("Retrieve and execute predefined queries"). 501 is the documented status for "some
requested operation isn't implemented" ("Compose HTTP requests and handle errors").

UNCONFIRMED, the emulator's choice: which code the real service puts in its error body. Input the real service
would refuse anyway (FetchXML that is not XML or names another table, SQL that is not one SELECT, a predefined
query id that is not a GUID) answers 400 with `0x80040203` (Invalid Argument); valid input answers 501 with
`0x80040800` and says the emulator does not run it.
"""

from __future__ import annotations

import re
import uuid
from xml.etree import ElementTree

from local.emulators.dataverse.errors import INVALID_ARGUMENT, NOT_SUPPORTED, DataverseError
from local.emulators.dataverse.schema import Table
from local.emulators.web import Request

NOT_RUN = {"fetchXml": "FetchXML", "sql": "SQL", "savedQuery": "saved", "userQuery": "user"}
_SELECT = re.compile(r"^\s*select\s", re.IGNORECASE)
_OTHER_STATEMENT = re.compile(r";\s*\S")


def _invalid(message: str) -> DataverseError:
    return DataverseError(400, INVALID_ARGUMENT, message)


def _not_run(option: str, what: str) -> DataverseError:
    return DataverseError(
        501,
        NOT_SUPPORTED,
        f"The query option '{option}' ({what} queries) is not implemented by this emulator: the real Web API would "
        "run it. Use $filter, $select, $orderby and $expand, or test this query against a Dataverse environment.",
    )


def _check_fetch_xml(text: str, table: Table) -> None:
    try:
        root = ElementTree.fromstring(text)  # noqa: S314 - expat refuses entity expansion bombs (Python >= 3.7.1)
    except ElementTree.ParseError as error:
        raise _invalid(f"The FetchXML is not well-formed XML: {error}.") from None
    entity = root.find("entity")
    if root.tag != "fetch" or entity is None:
        raise _invalid("The FetchXML must be a <fetch> element holding one <entity name='...'> element.")
    if entity.get("name") != table.logical_name:
        raise _invalid(
            f"The entity name '{entity.get('name')}' in the FetchXML does not match the entity set "
            f"'{table.entity_set}' ({table.logical_name})."
        )


def _check_sql(text: str) -> None:
    if not _SELECT.match(text) or _OTHER_STATEMENT.search(text.strip().rstrip(";")):
        raise _invalid("The sql query option takes exactly one SELECT statement; other statements are not supported.")


def refuse_unrun_options(request: Request, table: Table | None) -> None:
    """Raise for the first query option of `NOT_RUN` in the request (input errors first, then 501)."""
    for option, what in NOT_RUN.items():
        if option not in request.query:
            continue
        text = request.query[option]
        if option == "fetchXml" and table is not None:
            _check_fetch_xml(text, table)
        elif option == "sql":
            _check_sql(text)
        elif option in ("savedQuery", "userQuery"):
            try:
                uuid.UUID(text)
            except ValueError:
                raise _invalid(f"The {option} value '{text}' is not a valid Edm.Guid.") from None
        raise _not_run(option, what)
