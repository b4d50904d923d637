"""Dispatch: allowed submissions become jobs in a durable queue that workers take to quantum backends."""
