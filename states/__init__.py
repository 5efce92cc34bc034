"""The lifecycle domain: stages, gates, criteria and the rules. Imports no storage, Prefect or SMTP."""
