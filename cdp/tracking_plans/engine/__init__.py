"""The pure part of tracking plans: the plan file (document), checking events (checks),
proposing a plan from events (inference) and reading Segment Protocols' exports
(protocols). No Django."""
