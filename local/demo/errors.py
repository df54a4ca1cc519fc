"""The one error of `make demo`: a step did not behave as the story says (the demo then exits non-zero)."""


class StoryError(Exception):
    """A step did not behave as the story says."""
