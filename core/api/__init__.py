"""The API's generic plumbing: one error body, cursor pagination, the JSON parser, middleware, schema hooks."""
