"""Single sign-on with each agency's own OpenID Connect provider (Authlib, joserfc)."""
