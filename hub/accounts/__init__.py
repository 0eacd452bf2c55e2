"""People and how they sign in: areas, agencies, users, sessions, tokens, passwords, TOTP."""
