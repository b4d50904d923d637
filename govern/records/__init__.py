"""The service's records of live facts: procurement (vendors, sandboxes), waivers and API tokens."""
