"""Sign in with Google, or any OpenID Connect provider configured by settings."""
