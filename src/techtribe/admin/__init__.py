"""Admin views over what sits below the auth layer (the e-mail outbox), so they can take
the `Admin` dependency without that layer importing auth."""
