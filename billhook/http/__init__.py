"""HTTP plumbing shared by every router: error shape, request ids, session dependency."""
