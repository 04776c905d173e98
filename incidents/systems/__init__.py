"""Systems catalogue and the ownership audit (issue #15): what holds customer data, who answers
for it, whether it is backed up and whether a restore was ever proven."""
