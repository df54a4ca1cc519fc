"""The admin console in the system Chromium (Playwright) on the local stack: every page and its actions, with
screenshots saved to docs/console/ by `make screenshots`."""
