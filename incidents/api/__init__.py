"""The automation API under /api/v1 (issue #17): personal access tokens, bearer-token requests,
problem-details errors and the OpenAPI document the routes are described by."""
