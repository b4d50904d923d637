"""Evidence packs: everything about one submission in one signed zip an outsider verifies with the public key alone."""
