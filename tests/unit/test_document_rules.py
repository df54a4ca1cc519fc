"""BC's document rules from Sales: header texts, write-in lines and long descriptions on comment lines."""

from __future__ import annotations

import pytest

from shared.domain.documents import (
    ProductTarget,
    WriteInProduct,
    document_lines,
    header_discount,
    header_texts,
    split_text,
)
from shared.domain.errors import RecordError

WRITE_IN = WriteInProduct("Item", "WRITE-IN", "00000000-0000-4000-8000-0000000000a1")
DESK = ProductTarget("Item", "00000000-0000-4000-8000-0000000000d1", "1896-S", "ATHENS Desk")
CONSULTING = ProductTarget("Resource", "Resource|R0010", "R0010", "Consulting")
PRODUCTS = {"p-desk": DESK, "p-res": CONSULTING}


def test_split_never_cuts_a_word_when_a_space_is_near() -> None:
    text = "word " * 50  # 250 characters, a space every 5
    pieces = split_text(text)
    assert all(len(p) <= 100 for p in pieces)
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in pieces)
    assert " ".join(pieces) == text.strip()
    assert all(p.split(" ")[-1] == "word" for p in pieces)


def test_split_cuts_a_word_longer_than_the_window_at_the_limit_and_loses_nothing() -> None:
    text = "x" * 250
    assert split_text(text) == ["x" * 100, "x" * 100, "x" * 50]
    assert split_text("   ") == []


def test_header_texts_are_upper_cased_and_cut_to_bc_lengths_with_warnings() -> None:
    texts = header_texts("  order for  the new office building at harbour street 12 ", "ORD-01001-X1Y2Z3")
    assert texts.external_document_number == "ORDER FOR THE NEW OFFICE BUILDING A"
    assert len(texts.external_document_number) <= 35
    assert texts.your_reference == "ORD-01001-X1Y2Z3"
    assert len(texts.warnings) == 1 and "External Document No." in texts.warnings[0]
    assert header_texts("Short", "N" * 40).your_reference == "N" * 35


def test_a_write_in_line_keeps_100_characters_and_continues_on_comment_lines() -> None:
    text = ("Custom engraving of the company logo on every desk surface, brass finish, " * 4).strip()  # ~299 chars
    lines = document_lines(
        [{"sequencenumber": 1, "isproductoverridden": True, "productdescription": text, "quantity": 2,
          "priceperunit": 50}],
        PRODUCTS,
        WRITE_IN,
    )  # fmt: skip
    assert lines[0]["lineType"] == "Item" and lines[0]["itemId"] == WRITE_IN.bc_id
    assert (lines[0]["quantity"], lines[0]["unitPrice"]) == (2.0, 50.0)
    comments = lines[1:]
    assert all(c["lineType"] == "Comment" and set(c) == {"lineType", "description", "sequence"} for c in comments)
    assert " ".join([lines[0]["description"]] + [c["description"] for c in comments]) == text
    assert all(len(line["description"]) <= 100 for line in lines)
    assert [line["sequence"] for line in lines] == [10000 * n for n in range(1, len(lines) + 1)]


def test_an_item_line_keeps_bc_description_and_sends_the_sales_text_as_comments() -> None:
    details = [
        {"sequencenumber": 2, "_productid_value": "p-res", "quantity": 3, "description": "ATHENS"},
        {"sequencenumber": 1, "_productid_value": "p-desk", "quantity": 1, "description": "ATHENS Desk"},
        {"sequencenumber": 3, "_productid_value": "p-desk", "quantity": 1, "description": "first line\nsecond line",
         "manualdiscountamount": 5, "volumediscountamount": 2},
    ]  # fmt: skip
    lines = document_lines(details, PRODUCTS, None)
    assert [(line["lineType"], line.get("description")) for line in lines] == [
        ("Item", None),  # the text equals BC's description: no comment
        ("Resource", None),
        ("Comment", "ATHENS"),
        ("Item", None),
        ("Comment", "first line"),
        ("Comment", "second line"),
    ]
    assert lines[1]["lineObjectNumber"] == "R0010"
    assert lines[3]["discountAmount"] == 7.0  # 1 x 2 volume discount + 5 manual


def test_a_write_in_without_setup_and_an_uncoupled_product_are_refused_naming_the_line() -> None:
    with pytest.raises(RecordError) as missing:
        document_lines([{"sequencenumber": 1, "productdescription": "Gift wrap", "quantity": 1}], PRODUCTS, None)
    assert missing.value.code == "writeInProductMissing" and "Line 1" in missing.value.message
    with pytest.raises(RecordError) as uncoupled:
        document_lines([{"sequencenumber": 1, "_productid_value": "p-other", "quantity": 1}], PRODUCTS, WRITE_IN)
    assert uncoupled.value.code == "productNotCoupled"


def test_the_header_discount_is_the_percentage_of_the_lines_plus_the_amount() -> None:
    details = [
        {"quantity": 2, "priceperunit": 500, "manualdiscountamount": 100},
        {"quantity": 1, "priceperunit": 100, "volumediscountamount": 10},
    ]
    assert header_discount(details, 20, 10) == 119.0  # 10 % of (900 + 90) + 20
    assert header_discount(details, None, None) == 0.0
    assert header_discount(details, 0, 5) == 49.5
