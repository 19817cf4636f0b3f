"""The case routes' contract: request bodies, response views, OpenAPI examples."""
