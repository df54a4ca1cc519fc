"""`make demo` (`python -m local.demo`): the story a new admin wants to see, told through the app's HTTP API on the
local stack: `story.py` (the plumbing and the admin's first steps), `vendors.py` (VENDOR, shared with the end-to-end
tests), `full_sync.py`, `documents.py` (lead to cash), `cash.py` (order to cash with BC's money, shared with the
end-to-end tests) and `companies.py` (the second BC company: the demo's stack serves two). Never deployed.
"""
