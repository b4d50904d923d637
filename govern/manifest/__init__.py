"""The documents users write, read with positions: the YAML/JSON loader, the manifest schemas, the starter files."""
