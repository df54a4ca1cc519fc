"""Page web services (`/ODataV4/Company('...')/{Service}`) and custom API routes of the BC emulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from local.emulators.business_central.errors import BcError
from local.emulators.business_central.writer import Writer
from local.emulators.web import Request, Response

if TYPE_CHECKING:
    from local.emulators.business_central.app import BusinessCentralApp


def handle(app: BusinessCentralApp, request: Request) -> Response:
    raise BcError(404, "BadRequest_NotFound", f"No HTTP resource was found that matches '{request.path}'.")


def seed_demo(writer: Writer, company_id: str) -> dict[str, int]:
    return {}
