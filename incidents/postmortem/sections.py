"""The sections of a postmortem, in document order.

`SECTIONS` lists the written ones (Markdown typed by people): (key, heading, blameless-writing
hint). `DOCUMENT` is the whole document in order, written and generated sections together;
generated ones (impact, systems, timeline) are filled from the incident's own record when shown.
"""
from __future__ import annotations

SECTIONS: list[tuple[str, str, str]] = [
    ("summary", "Summary",
     "Two or three sentences a newcomer understands: what happened to whose data, and where it "
     "stands now."),
    ("root_cause", "Root cause and trigger",
     "Describe the conditions that made the loss possible and the event that set it off. Ask "
     "“what made this the easy thing to do?”, not “who did it?”."),
    ("detection", "Detection",
     "How and when did we find out, and how could we have known sooner? Name signals and "
     "systems, not people who missed them."),
    ("resolution", "Resolution and recovery",
     "What restored the data and in which order. The figures from the workstreams and RPO/RTO "
     "are added below automatically."),
    ("data_lost", "Data permanently lost and how the restore was verified",
     "Say plainly what could not be recovered, for whom, and how we checked that restored data "
     "is complete and correct."),
    ("remediation", "Customer remediation",
     "What affected customers were told and offered, and what they still need to do."),
    ("went_well", "What went well",
     "Practices and tools worth keeping; credit the system and the team's choices."),
    ("went_badly", "What went badly",
     "Gaps in process, tooling or information. Describe decisions in the light of what was known "
     "at the time."),
    ("got_lucky", "Where we got lucky",
     "Things that helped by chance and that we should not rely on next time."),
    ("lessons", "Lessons",
     "What we now believe that we did not before. Each lesson should lead to an action item."),
]

SECTION_KEYS: list[str] = [key for key, _heading, _hint in SECTIONS]
HEADINGS: dict[str, str] = {key: heading for key, heading, _hint in SECTIONS}
HINTS: dict[str, str] = {key: hint for key, _heading, hint in SECTIONS}

# The whole document: ("written", key) or ("generated", name), in reading order.
DOCUMENT: list[tuple[str, str]] = [
    ("written", "summary"),
    ("generated", "impact"),
    ("generated", "systems"),  # the systems affected: owner, last backup, last restore test then
    ("generated", "timeline"),
    ("written", "root_cause"),
    ("written", "detection"),
    ("written", "resolution"),
    ("generated", "recovery"),  # workstreams and RPO/RTO, shown under "Resolution and recovery"
    ("written", "data_lost"),
    ("written", "remediation"),
    ("written", "went_well"),
    ("written", "went_badly"),
    ("written", "got_lucky"),
    ("written", "lessons"),
]

# The most a section may hold (characters); a postmortem is prose, not a data dump.
MAX_SECTION_LENGTH = 20_000
