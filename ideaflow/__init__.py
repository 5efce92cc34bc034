"""ideaflow: the service layer, configuration and command line around the lifecycle domain."""
