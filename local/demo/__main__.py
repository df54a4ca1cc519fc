"""`make demo` (`python -m local.demo`): the story a new admin wants to see, on the local stack, through the app's own
HTTP API.

It starts the stack (token authority, Azurite, both emulators, the Functions host) on free ports, seeds a CRONUS-like
BC company (and a second one: the stack serves two, local/demo/companies.py) and a small Sales org, runs the
admin's first steps (local/demo/story.py: a refused coupling, couplings,
matching, creates both ways, Synchronize Now, a conflict; local/demo/vendors.py: vendors both ways; then a full
synchronization), the document story (local/demo/documents.py: lead to cash) and the second company's chapter
(local/demo/companies.py), and last a change crossing each way in seconds on change notifications
(local/demo/notifications.py: the stack runs with them configured, registered only by that chapter). It ends with a
summary, which names the companies it ran with, and exits 0 (non-zero when a step did not behave as the story says).
"""

from __future__ import annotations

import sys

from local.demo.companies import DEMO_COMPANIES, PRIMARY_NAME, company_story, served_companies
from local.demo.documents import document_story
from local.demo.errors import StoryError
from local.demo.notifications import notification_env, notification_story
from local.demo.story import Story
from local.demo.vendors import vendor_story
from local.stack.launcher import LocalStack


def run(story: Story) -> None:
    story.step("Seeding the demo company and a second company in Business Central, and a small org in Sales")
    for name, profile in (("business_central", "companies"), ("dataverse", "demo")):
        created = story.session.post(
            f"{story.stack.urls[name]}/_admin/seed", json={"profile": profile}, timeout=30
        ).json()["created"]
        print(f"   {name}: {created}")
    print(f"   the app serves {served_companies()} (BC_COMPANIES)")
    story.summary["companies"].append(f"ran with {served_companies()}, in one Sales org")
    story.refused_coupling()
    story.couple_basics()
    story.match_customers()
    story.create_both_ways()
    story.synchronize_now()
    story.conflict()
    vendor_story(story)
    story.full_sync()
    document_story(story)
    company_story(story)
    notification_story(story)  # last: it registers the notifications, which no earlier chapter expects


def main() -> int:
    stack = LocalStack.on_free_ports()
    stack.companies = [dict(company) for company in DEMO_COMPANIES]
    stack.host_env.update(notification_env(stack))  # configured now, registered by the last chapter only
    print(
        "starting the local stack (token authority, Azurite, Business Central and Dataverse emulators, "
        "Functions host)...",
        flush=True,
    )
    stack.start()
    try:
        for name, url in stack.urls.items():
            print(f"   {name:<17} {url}")
        story = Story(stack, company=PRIMARY_NAME)
        run(story)
        story.print_summary()
    except StoryError as error:
        print(f"\nthe demo stopped: {error}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
    print("\ndemo finished; `make serve` keeps the stack (and the API on 7071) running.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
