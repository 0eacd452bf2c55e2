"""Administration: agencies, identity providers, users and roles. Never any case content."""
