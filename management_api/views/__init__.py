"""Viewsets of the management API, one module per area; ``base`` holds what they share."""
