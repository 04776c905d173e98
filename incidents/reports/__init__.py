"""Documents made from the incident record: the executive postmortem report, and the safe
HTML-to-PDF renderer that notices and reports share."""
