"""An example app shipped with the server: personal notes, searchable, each with an owner."""
