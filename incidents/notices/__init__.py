"""Customer notices: versioned, approved messages to customers and regulators, built from the
incident's public facts only."""
