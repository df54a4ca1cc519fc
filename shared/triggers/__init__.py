"""Thin triggers, one blueprint per family: parse the input, call one service, map the result to the transport."""
