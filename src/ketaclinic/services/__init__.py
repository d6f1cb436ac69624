"""Use cases: functions that take their ports (repositories, unit of work, clock, notifier)."""
