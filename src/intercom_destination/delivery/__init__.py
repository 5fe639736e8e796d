"""Delivery: runs plans against Intercom and decides each event's outcome."""
