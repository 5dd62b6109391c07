"""HTTP edges of the authorization server, one module per group of endpoints.

``pages``: login, account and consent withdrawal (and the security headers of every page people see);
``authorize``: the consent page; ``tokens``: token, revocation and introspection endpoints;
``registration``: dynamic client registration; ``wellknown``: server metadata and the JWK Set.
"""
